"""Catalogs at collection: which YAML files are catalogs wherever pytest is pointed, and a catalog
mistake reported once, at its line, without a traceback, as a usage error (exit status 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import load_bench
from bench.image.builders import FIRMWARE_DIR, delta_builder, firmware_builder
from bench.nightly.verdicts import USAGE
from bench.pytest.collect import is_catalog
from bench.scenarios.campaign_catalog import ecu_catalogs
from bench.scenarios.catalog import load_catalog
from bench.scenarios.reach import Download, downloads, unreachable
from rack_suite import REPO, bcm_project, run_pytest

GOOD = """\
campaign: good
defaults: {to: app-2.0.0}
matrix: {ecu: bcm, fault: power_cut, at: [erase, "block:3"]}
"""

MISSPELT_KIND = """\
campaign: misspelt
defaults: {to: app-2.0.0}
matrix:
  ecu: bcm
  fault: [power_kut]
  at: [erase, "block:3"]
exclude:
  - {fault: power_kut, at: erase}
include:
  - {ecu: bcm, fault: power_kut, at: session}
overrides:
  - when: {fault: power_kut}
    set: {expect: {versions: [old, new, bootloader]}}
"""

PER_CASE_IMAGE = """\
campaign: per-case
matrix: {ecu: bcm, fault: power_cut, at: erase, to: app-2.0.0}
include:
  - {ecu: bcm, fault: power_cut, at: "offset:0x20000", to: app-3.0.0-1mib}
  - {ecu: bcm, fault: power_cut, at: "offset:0x20000", to: app-2.0.0}
"""

GITLAB_JOB = """\
stages: [campaign]
campaign:
  stage: campaign
  script: [make campaign]
"""


def test_a_misspelt_fault_kind_is_one_error_naming_every_line_without_traceback(tmp_path: Path) -> None:
    bcm_project(tmp_path, {"campaigns/misspelt.yaml": MISSPELT_KIND})
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "rack.yaml", "campaigns")

    assert done.returncode == USAGE, done.stdout + done.stderr
    path = (tmp_path / "campaigns" / "misspelt.yaml").resolve()
    problems = [line for line in done.stdout.splitlines() if line.startswith((f"{path}:", f"  {path}:"))]
    assert len(problems) == 1, done.stdout  # no "matches no combination", no "matches no scenario"
    assert problems[0].endswith("(also on lines 8, 10, 12)")
    assert f"{path}:5: matrix.fault[0]: unknown fault kind 'power_kut'; did you mean 'power_cut'?" in problems[0]
    assert "Traceback" not in done.stdout and "collect.py" not in done.stdout and "\nE  " not in done.stdout
    assert "Interrupted: 1 error during collection" in done.stdout


def test_each_case_is_checked_against_its_own_image(tmp_path: Path) -> None:
    bcm_project(tmp_path, {"per-case.yaml": PER_CASE_IMAGE})
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "rack.yaml", "per-case.yaml", "--collect-only")

    assert done.returncode == USAGE, done.stdout + done.stderr
    assert ":5: include[1].at: 'offset:0x20000' is never reached: app-2.0.0 is a 65,792-byte download to bcm " \
           "(offset:0x0 to offset:0x100ff)" in done.stdout
    assert "include[0]" not in done.stdout  # the 1 MiB image of the other include has that byte


def test_catalogs_are_collected_wherever_pytest_is_pointed_and_nothing_else(tmp_path: Path) -> None:
    bcm_project(tmp_path, {"campaigns/nightly/good.yml": GOOD, "campaigns/ci/pipeline.yml": GITLAB_JOB,
                       "campaigns/recipe.yaml": "version: 9.9.9\n"})
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "rack.yaml", "campaigns", "--collect-only", "-q")

    assert done.returncode == 0, done.stdout + done.stderr
    items = [line for line in done.stdout.splitlines() if "::" in line]
    assert items == ["campaigns/nightly/good.yml::good[bcm-full-power_cut@erase]",
                     "campaigns/nightly/good.yml::good[bcm-full-power_cut@block:3]"]


def test_catalog_tags_are_registered_markers_that_select(tmp_path: Path) -> None:
    """Tags shared by several catalogs and scenarios: registered (``--strict-markers`` accepts
    them), and ``-m`` selects by them."""
    bcm_project(tmp_path, {"campaigns/fast.yaml": GOOD.replace("campaign: good", "campaign: fast\ntags: [power]"),
                           "campaigns/slow.yaml": GOOD.replace("campaign: good", "campaign: slow\ntags: [power, slow]")})
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "rack.yaml", "campaigns", "--collect-only", "-q",
                      "--strict-markers", "-m", "power and not slow")

    assert done.returncode == 0, done.stdout + done.stderr
    assert [line for line in done.stdout.splitlines() if "::" in line] == [
        "campaigns/fast.yaml::fast[bcm-full-power_cut@erase]", "campaigns/fast.yaml::fast[bcm-full-power_cut@block:3]"]
    assert "2/4 tests collected (2 deselected)" in done.stdout


def test_the_collection_rule(tmp_path: Path) -> None:
    files = {"scenarios/any.yaml": "x: 1\n", "elsewhere/catalog.yml": GOOD, "elsewhere/ci.yml": GITLAB_JOB,
             "elsewhere/bench.yaml": "name: rack\n", "elsewhere/named.yaml": "name: rack\n",
             "elsewhere/notes.txt": GOOD}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    named = {(tmp_path / "elsewhere" / "named.yaml").resolve()}

    assert {name for name in files if is_catalog(tmp_path / name, named)} == {
        "scenarios/any.yaml", "elsewhere/catalog.yml", "elsewhere/named.yaml"}


def test_the_shipped_catalogs_reach_every_trigger_point_they_name() -> None:
    bench = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    kinds = {name: bench.profiles[ecu.profile].bootloader for name, ecu in bench.ecus.items()}
    deltas = [name for name, ecu in bench.ecus.items() if bench.profiles[ecu.profile].delta is not None]
    sizes = downloads([bench], firmware_builder(REPO), delta_builder(REPO))
    for path in ecu_catalogs(REPO / "testcases" / "scenarios"):
        load_catalog(path, ecus=kinds, firmware={p.stem for p in (REPO / FIRMWARE_DIR).glob("*.yaml")},
                     delta_ecus=deltas, downloads=sizes)
    patch = sizes("bms", "delta", "factory", "app-1.1.0")
    assert patch.patch_steps == 17  # delta.yaml's comment: the BMS applies its patch in 17 steps
    assert unreachable("patch_step:16", patch) is None
    assert unreachable("patch_step:17", patch) == ("'patch_step:17' is never reached: delta package factory -> "
                                                   "app-1.1.0 is applied by bms in 17 steps (patch_step:0 to "
                                                   "patch_step:16)")
    release = sizes("eps", "full", "factory", "eps-2.0.0")  # application and calibration
    assert release.logical_blocks == 2
    assert unreachable("erase@1", release) is None and unreachable("block:2@1", release) is None
    assert unreachable("erase@2", release) == ("'erase@2' is never reached: eps-2.0.0 has 2 logical blocks for eps "
                                               "(@0 to @1)")


@pytest.mark.parametrize(("at", "reached"), [
    ("block:17", True), ("block:18", False), ("offset:0x100ff", True), ("offset:0x10100", False),
    ("page:256", True), ("page:257", False), ("sector:16", True), ("sector:17", False), ("erase", True),
    ("random_block", True)])
def test_a_point_is_counted_in_the_download_it_interrupts(at: str, reached: bool) -> None:
    app = Download("app-2.0.0", "bcm", size=65792, block=4096, page=256, sector=4096)
    assert (unreachable(at, app) is None) == reached


def test_a_real_ecu_s_pages_are_not_counted() -> None:
    real = Download("app-2.0.0", "ecu", size=65792, block=4096)
    assert unreachable("page:9999", real) is None and unreachable("block:18", real) is not None
