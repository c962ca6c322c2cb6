"""Shards: --shard-index/--shard-count split the selected tests into disjoint shares that together
are the whole run; the shards' Allure results merge into one folder with every test once; the
example pipeline (fixtures/ci) runs them so."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from bench.nightly.merge import merge_properties, read_properties
from bench.nightly.shards import deal
from bench.report.environment import write_properties
from rack_suite import virtual_rack
from report_suite import REPO, TESTS, make_suite, run_suite

PIPELINE = REPO / "fixtures" / "ci" / "nightly.gitlab-ci.yml"


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_are_disjoint_balanced_and_together_the_whole(count: int) -> None:
    items = [SimpleNamespace(nodeid=f"test_{name}") for name in "qwertyuiopasdfghjklzx"]
    shards = [deal(items, index, count) for index in range(count)]  # type: ignore[arg-type]
    kept = [item.nodeid for mine, _ in shards for item in mine]
    assert sorted(kept) == sorted(item.nodeid for item in items)
    assert max(len(mine) for mine, _ in shards) - min(len(mine) for mine, _ in shards) <= 1
    for mine, others in shards:
        assert [item for item in items if item in mine] == mine and len(mine) + len(others) == len(items)
    assert deal(list(reversed(items)), 0, count)[0] == list(reversed(shards[0][0]))  # by node id, not by order


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report suite run as 2 shards (the first with 2 xdist workers), then merged."""
    root = make_suite(tmp_path_factory.mktemp("shards"))
    for index, workers in ((0, ["-n", "2"]), (1, ["-p", "no:xdist"])):
        done = run_suite(root, *workers, "--shard-index", str(index), "--shard-count", "2",
                         "--alluredir", f"shard-{index}")
        assert done.returncode in (pytest.ExitCode.OK, 6), done.stdout + done.stderr  # 6: the suite's bench fault
    merged = subprocess.run([sys.executable, "-m", "bench.nightly.merge", "merged", "shard-0", "shard-1",
                             "--matrix-dir", "matrix"], cwd=root, capture_output=True, text=True, check=False)
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.strip() == "merged 4 test results of 2 shards into merged"
    return root


def names(directory: Path) -> list[str]:
    return [result["name"] for result in results(directory)]


def results(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in directory.glob("*-result.json")]


def test_shards_run_every_test_of_the_suite_once(shards: Path) -> None:
    first, second = names(shards / "shard-0"), names(shards / "shard-1")
    assert first and second and not set(first) & set(second)
    assert len(first) + len(second) == TESTS


def test_merged_results_hold_every_test_once_with_one_environment_and_matrix(shards: Path) -> None:
    merged = shards / "merged"
    assert sorted(names(merged)) == sorted(names(shards / "shard-0") + names(shards / "shard-1"))
    assert len(set(names(merged))) == TESTS
    environment = read_properties(merged / "environment.properties")
    assert environment["shards"] == "2" and environment["shard"] == "0 of 2 | 1 of 2"
    assert environment["bench"].startswith("virtual-bench (")
    assert (merged / "categories.json").read_text() == (shards / "shard-0" / "categories.json").read_text()
    [run] = [json.loads(path.read_text()) for path in merged.glob("*-globals.json")]
    attached = {item["name"]: merged / item["source"] for item in run["attachments"]}
    assert set(attached) == {"Outcome matrix (HTML)", "Outcome matrix (PNG)", "Outcome matrix (CSV)"}
    csv = attached["Outcome matrix (CSV)"].read_text().splitlines()
    assert sorted(line.split(",")[0] for line in csv[1:]) == ["bcm", "bms"]  # both scenarios, from two shards
    assert (shards / "matrix" / "outcome-matrix.html").is_file()
    shard_only = {path.name for shard in ("shard-0", "shard-1") for path in (shards / shard).glob("*-globals.json")}
    assert not shard_only & {path.name for path in merged.iterdir()}


def test_merge_refuses_a_folder_with_results_in_it(shards: Path) -> None:
    again = subprocess.run([sys.executable, "-m", "bench.nightly.merge", "merged", "shard-0"], cwd=shards,
                           capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "merged is not empty" in again.stderr


def test_environments_merge_values_and_unite_ecu_versions(tmp_path: Path) -> None:
    shards = [{"bench": "rack (a.yaml)", "ecu.bms.versions": "1.0.0, 2.0.0", "note": "a=b: c\n"},
              {"bench": "rack (a.yaml)", "ecu.bms.versions": "1.0.0, 2.1.0", "note": "ü 🚗"}]
    for index, properties in enumerate(shards):
        write_properties(tmp_path / f"{index}.properties", properties)
    read = [read_properties(tmp_path / f"{index}.properties") for index in range(2)]
    assert read == shards
    assert merge_properties(read) == {"bench": "rack (a.yaml)", "ecu.bms.versions": "1.0.0, 2.0.0, 2.1.0",
                                      "note": "a=b: c\n | ü 🚗"}


def test_the_example_pipeline_runs_shards_with_options_pytest_knows_and_merges_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = yaml.safe_load(PIPELINE.read_text())
    campaign, report = pipeline["campaign"], pipeline["report"]
    assert campaign["parallel"] > 1 and campaign["allow_failure"] == {"exit_codes": [6]}
    assert any("-m bench.nightly.merge reports/allure-results reports/shard-*/allure-results" in line
               for line in report["script"])
    assert "make report" in report["script"] and report["when"] == "always"
    # the nights' history: only the report job has it, in its cache, where the merge and Allure look
    merge = next(line for line in report["script"] if "bench.nightly.merge" in line)
    assert "--history reports/history" in merge and report["cache"]["paths"] == ["reports/history/"]
    assert "cache" not in campaign and "--history" not in " ".join(campaign["script"])
    assert '"reports/history/allure-history.jsonl"' in (REPO / "reports" / "allurerc.mjs").read_text()
    # the shard's pytest command, collecting a small suite on this machine's racks
    for name, value in {"RACKS": str(tmp_path / "racks"), "SHARD": "1", "CI_NODE_TOTAL": "2"}.items():
        monkeypatch.setenv(name, value)
    virtual_rack(tmp_path / "racks", "rack-a")
    (tmp_path / "testcases").mkdir()
    (tmp_path / "testcases" / "test_few.py").write_text(
        "import pytest\n@pytest.mark.parametrize('n', range(4))\ndef test_few(bench, n):\n    pass\n")
    command = next(line for line in campaign["script"] if "pytest" in line)
    arguments = shlex.split(os.path.expandvars(command))[1:]
    done = subprocess.run([sys.executable, "-m", "pytest", *arguments, "--co", "-q", "--rootdir", str(tmp_path),
                           "-p", "no:cacheprovider"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_few[1]\ntestcases/test_few.py::test_few[3]\n\n2/4 tests collected (2 deselected)" in done.stdout
