"""A small OTA run for the report tests: two catalog scenarios on two ECUs and two plain tests,
one of which stops on a fault of the bench (a power supply that does not answer)."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report.packed_html import PACKED_APP_ID, PACKED_ID, pack_file

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"
TESTS = 4
"""Tests the suite has: 2 scenarios + 2 plain tests."""

CATALOG = """\
campaign: smoke
tags: [smoke]
defaults: {from: factory, to: app-2.0.0}
matrix:
  ecu: [bcm, bms]
  fault: power_cut
  at: "block:2"
params: {power_cut: {off_for: 0.05}}
expect: {outcome: updated, versions: [old, new, bootloader], max_resent_blocks: 1}
overrides:
  - when: {ecu: bms}
    set: {expect: {versions: [old, new]}}
"""

PLAIN_TESTS = """\
import pytest
from bench.errors import BenchFault

@pytest.mark.ecu("bms")
def test_reads_the_factory_version(ecu):
    assert ecu.diagnostics.read_version() == "1.0.0"

def test_supply_does_not_answer():
    raise BenchFault("power supply 'kl30' on socket://127.0.0.1:5025 did not answer 'OUTP?' within 1.0 s")
"""


def make_suite(directory: Path) -> Path:
    """The suite's files in ``directory`` (its rootdir), which must exist and be empty."""
    (directory / "fixtures").symlink_to(REPO / "fixtures")
    (directory / "scenarios").mkdir()
    (directory / "scenarios" / "smoke.yaml").write_text(CATALOG)
    (directory / "test_plain.py").write_text(PLAIN_TESTS)
    return directory


def run_suite(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest on the suite in a subprocess (allure-pytest registers its writers process-wide)."""
    return subprocess.run([sys.executable, "-m", "pytest", "--bench", str(BENCH), "-p", "no:cacheprovider",
                           "--rootdir", str(directory), *args], cwd=directory, capture_output=True, text=True,
                          timeout=300, check=False)

NODE_MODULES = REPO / ".node" / "node_modules"
"""Where the Makefile installs Allure 3 (npm package ``allure``)."""
ALLURE = NODE_MODULES / ".bin" / "allure"


def generate_report(root: Path, *, packed: bool = True) -> Path:
    """The HTML report of ``root``'s ``allure-results`` as `make report` makes it: Allure 3 with the
    project's configuration (its history file, relative to the working directory, in ``root``), then
    its data packed (``packed=False``: Allure's file as it is). Skips where Node or Allure is missing."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: Allure 3 needs it (apt-get install nodejs npm)")
    if not ALLURE.exists():
        pytest.skip(f"Allure 3 is not installed in {ALLURE.parents[2]}: `make test` installs it with npm")
    environment = {name: value for name, value in os.environ.items() if name != "ALLURE_HISTORY"}
    subprocess.run([str(ALLURE), "generate", "--config", str(REPO / "reports" / "allurerc.mjs"), "allure-results",
                    "--output", "allure-report"], cwd=root, capture_output=True, text=True, timeout=300, check=True,
                   env=environment)
    index = root / "allure-report" / "index.html"
    if packed:
        pack_file(index)
    return index


def packed_files(html: str) -> dict[str, bytes]:
    """The files a packed report holds, read as its loader reads them (bench/report/packed_html_loader.js)."""
    block = re.search(f'<script type="application/gzip" id="{PACKED_ID}" data-files="[0-9]+">([^<]*)</script>', html)
    assert block is not None, "no packed report data in this HTML"
    stream = gzip.decompress(base64.b64decode(block[1], validate=True))
    index, _, content = stream.partition(b"\n")
    files, offset = {}, 0
    for name, length in json.loads(index):
        files[name] = content[offset:offset + length]
        offset += length
    assert offset == len(content), f"{len(content) - offset} bytes after the last packed file"
    return files


def packed_app(html: str) -> bytes:
    """Allure's app as a packed report holds it."""
    block = re.search(f'<script type="application/gzip" id="{PACKED_APP_ID}">([^<]*)</script>', html)
    assert block is not None, "no packed app in this HTML"
    return gzip.decompress(base64.b64decode(block[1], validate=True))
