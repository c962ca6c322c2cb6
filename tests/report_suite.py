"""A small OTA run for the report tests: two catalog scenarios on two ECUs and two plain tests,
one of which stops on a fault of the bench (a power supply that does not answer)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
