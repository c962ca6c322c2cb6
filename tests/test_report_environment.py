"""environment.properties: bench, buses, ECU versions seen, framework, git revision — in a file
both Allure 2 and Allure 3 read back exactly."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.report.environment import git_revision, run_environment, write_properties
from report_suite import BENCH, NODE_MODULES, REPO


def test_properties_name_the_bench_its_buses_the_versions_seen_and_the_framework(tmp_path: Path) -> None:
    properties = run_environment(load_bench(BENCH), {"bms": {"2.0.0", "1.0.0"}, "bcm": {"1.0.0"}}, tmp_path)
    assert list(properties) == ["bench", "bus.body", "bus.powertrain", "ecu.bcm.versions", "ecu.bms.versions",
                                "framework", "python"]  # tmp_path is no git checkout: no revision
    assert properties["bench"] == f"virtual-bench ({BENCH})"
    assert properties["bus.body"] == "virtual channel ota-body, CAN 500 kbit/s, through the bench's gateway"
    assert properties["bus.powertrain"].startswith("virtual channel ota-pt, CAN FD 500/2000 kbit/s")
    assert properties["ecu.bms.versions"] == "1.0.0, 2.0.0"
    assert properties["framework"].startswith("ota-hil-bench ")


def test_git_revision_is_the_checkouts_head_when_there_is_one(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    head = subprocess.run([git, "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
    if head.returncode != 0:
        pytest.skip(f"{REPO} is not a git checkout")
    assert git_revision(REPO) == head.stdout.strip()
    assert git_revision(tmp_path) is None


def test_any_text_survives_the_properties_format(tmp_path: Path) -> None:
    values = {"bench": "rack 3: line=2", "ecu.bms.versions": "1.0.0, 2.0.0-β", "odd key: x=y": "# not a comment\nsecond"}
    path = tmp_path / "environment.properties"
    write_properties(path, values)
    assert path.read_text().isascii()  # Allure 2 reads ISO-8859-1
    reader = NODE_MODULES / "@allurereport" / "reader" / "dist" / "properties.js"
    node = shutil.which("node")
    if node is None or not reader.is_file():
        pytest.skip("Allure 3 is not installed in .node/ (make test installs it): cannot read the file back")
    script = (f"import {{ parseProperties }} from {json.dumps(reader.as_uri())};"
              "import { readFileSync } from 'node:fs';"
              f"process.stdout.write(JSON.stringify(parseProperties(readFileSync({json.dumps(str(path))}, 'utf-8'))));")
    done = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60,
                          check=True)
    assert json.loads(done.stdout) == values
