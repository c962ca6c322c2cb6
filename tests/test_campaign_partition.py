"""A bus partition during a campaign (testcases/scenarios/campaign-partition.yaml: the body bus cut
for 6 s in bcm's download): with install.retries the master waits for bcm to answer again and
resumes its download (committed); with retries 0 it rolls the campaign back, waiting for bcm to
answer before re-flashing it. The oracles judge both."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.errors import ConfigError
from bench.rig import Bench
from bench.scenarios.campaign_catalog import CampaignScenario, load_campaign_catalog, package_sources
from bench.scenarios.campaign_runner import CampaignRun
from bench.vehicle.manifest import Install
from bench.vehicle.master import UpdateMaster
from campaigns import ROOT, play

CATALOG = ROOT / "testcases" / "scenarios" / "campaign-partition.yaml"


@pytest.fixture(scope="module")
def bench_config() -> BenchConfig:
    return load_bench(ROOT / "fixtures" / "benches" / "virtual.yaml")


@pytest.fixture(scope="module")
def scenario() -> CampaignScenario:
    (only,) = load_campaign_catalog(CATALOG, ecus={"bcm", "bms", "eps"}, sources=package_sources(ROOT))
    assert only.id == "bus_partition@downloading:bcm#3-lasting-6s"
    return only


def bcm_flashes(seen: list[tuple[Bench, CampaignRun]]) -> list[tuple[str, str | None, int]]:
    rig, _ = seen[0]
    return [(result.version, result.failure and "failed", result.resumed_from)
            for name, _, result in rig.flash_results() if name == "bcm"]


def test_the_master_resumes_the_cut_ecu_once_it_answers_again(bench_config: BenchConfig,
                                                              scenario: CampaignScenario, tmp_path: Path) -> None:
    seen: list[tuple[Bench, CampaignRun]] = []
    run = play(bench_config, scenario, tmp_path, UpdateMaster, seen)
    assert run.outcome == "committed"
    assert "retrying:bcm" in [point for point, _ in run.points]
    (first, failed, _), (second, none, resumed_from) = bcm_flashes(seen)
    assert (first, failed, second, none) == ("1.1.0", "failed", "1.1.0", None)
    assert resumed_from > 0                               # from the bootloader's journal


def test_without_retries_the_campaign_is_rolled_back_once_the_ecu_answers(bench_config: BenchConfig,
                                                                          scenario: CampaignScenario,
                                                                          tmp_path: Path) -> None:
    seen: list[tuple[Bench, CampaignRun]] = []
    no_retry = replace(scenario, install=Install(retries=0), expect=("rolled_back",))
    run = play(bench_config, no_retry, tmp_path, UpdateMaster, seen)
    assert run.report is not None and run.report.reason.startswith("bcm: ")
    assert "retrying:bcm" not in [point for point, _ in run.points]
    assert run.report.ecus["bcm"].rollback == "reflash"
    assert [(version, failed) for version, failed, _ in bcm_flashes(seen)] == [("1.1.0", "failed"), ("1.0.0", None)]


def test_a_partition_needs_its_duration_and_an_ecu_to_cut(tmp_path: Path) -> None:
    path = tmp_path / "campaign-demo.yaml"
    path.write_text("vehicle_campaign: demo\ntargets:\n  bcm: {from: [\"1.0.0\", app-1.0.0], to: [\"1.1.0\", "
                    "app-1.1.0]}\nscenarios:\n  - {fault: bus_partition, at: accepted}\n"
                    "  - {fault: master_reset, at: accepted, lasting: 2}\n")
    with pytest.raises(ConfigError) as raised:
        load_campaign_catalog(path, ecus={"bcm"}, sources=package_sources(ROOT))
    text = str(raised.value)
    assert "scenarios[0]: bus_partition needs 'lasting'" in text
    assert "scenarios[0].at: bus_partition cuts the bus of the ECU its point names" in text
    assert "scenarios[1].lasting: lasting is for bus_partition, not master_reset" in text
