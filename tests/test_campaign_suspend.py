"""The manifest's policy when a precondition breaks mid-campaign (testcases/scenarios/
campaign-suspend.yaml: the vehicle, on the bus, drives off once bcm is installed, ``on_violation:
suspend``, ``resume_within: 1.5``): the master starts nothing new and goes on once the vehicle is
parked again, or rolls back past the time (bms by a bank switch, bcm once parked); a vehicle
never parked again is rolled back all the same where the ECUs do not hear it (``vehicle:
object``); a master that ignores the vehicle starts eps while it moves, which the oracle
catches. ``abort`` rolls back at once (where the ECUs do not hear the moving vehicle: on the bus
bcm would refuse the erase its rollback needs)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.config.models import RestBusConfig
from bench.errors import ConfigError
from bench.report.campaign_report import phase_spans, write_timeline_png
from bench.rig import Bench
from bench.scenarios.campaign_catalog import CampaignScenario, load_campaign_catalog, package_sources
from bench.scenarios.campaign_oracles import StartedWhileUnsafe
from bench.scenarios.campaign_runner import CampaignRun
from bench.vehicle.master import UpdateMaster
from bench.vehicle.mutants import SkipsPreconditions
from campaigns import ROOT, play

CATALOG = ROOT / "testcases" / "scenarios" / "campaign-suspend.yaml"
PARKS_AGAIN = "moving_vehicle@installed:bcm-parks-after-0.5s"
PARKS_LATE = "moving_vehicle@installed:bcm-parks-after-2.2s"


@pytest.fixture(scope="module")
def bench_config() -> BenchConfig:
    return load_bench(ROOT / "fixtures" / "benches" / "virtual.yaml")


@pytest.fixture(scope="module")
def scenarios() -> dict[str, CampaignScenario]:
    return {s.id: s for s in load_campaign_catalog(CATALOG, ecus={"bcm", "bms", "eps"}, sources=package_sources(ROOT))}


def points(run: CampaignRun) -> list[str]:
    return [point for point, _ in run.points]


def test_a_suspended_campaign_resumes_once_the_vehicle_is_parked_again(
        bench_config: BenchConfig, scenarios: dict[str, CampaignScenario], tmp_path: Path) -> None:
    seen: list[tuple[Bench, CampaignRun]] = []
    run = play(bench_config, scenarios[PARKS_AGAIN], tmp_path, UpdateMaster, seen)
    assert run.outcome == "committed"
    order = points(run)
    assert order.index("installed:bcm") < order.index("suspended") < order.index("resumed") \
        < order.index("installed:eps")
    (moved, parked), = run.unsafe
    assert parked is not None
    rig, _ = seen[0]
    eps_start = next(result.timeline.steps[0].start for name, _, result in rig.flash_results() if name == "eps")
    assert eps_start >= parked                      # eps waited for the vehicle


def test_a_campaign_suspended_past_resume_within_rolls_back_once_the_vehicle_allows(
        bench_config: BenchConfig, scenarios: dict[str, CampaignScenario], tmp_path: Path) -> None:
    seen: list[tuple[Bench, CampaignRun]] = []
    run = play(bench_config, scenarios[PARKS_LATE], tmp_path, UpdateMaster, seen)
    assert run.outcome == "rolled_back" and run.report is not None
    assert "preconditions broken for more than 1.5 s: speed 12 km/h above 0" in run.report.reason
    assert "resumed" not in points(run) and "installed:eps" not in points(run)
    assert {name: (ecu.status, ecu.rollback) for name, ecu in run.report.ecus.items()} == {
        "bms": ("restored", "bank_switch"), "bcm": ("restored", "reflash"), "eps": ("untouched", "")}
    rig, _ = seen[0]
    (_, parked), = run.unsafe
    assert parked is not None
    reflash = next(result for name, _, result in rig.flash_results() if name == "bcm" and result.version == "1.0.0")
    assert reflash.timeline.steps[0].start >= parked   # bcm erases only once the vehicle is parked
    drawn = {(ecu, phase) for ecu, phase, _, _ in phase_spans(run, rig.flash_results())}
    assert {("bms", "bank switch"), ("bcm", "rollback")} <= drawn and ("bms", "rollback") not in drawn
    write_timeline_png(run, rig.flash_results(), tmp_path / "timeline.png")   # the moving time shaded
    assert (tmp_path / "timeline.png").read_bytes()[:4] == b"\x89PNG"


def test_a_vehicle_never_parked_again_is_rolled_back_where_the_ecus_do_not_hear_it(
        bench_config: BenchConfig, scenarios: dict[str, CampaignScenario], tmp_path: Path) -> None:
    never = replace(scenarios[PARKS_LATE], parks_after=None, vehicle="object")
    run = play(bench_config, never, tmp_path, UpdateMaster)
    assert run.outcome == "rolled_back" and run.unsafe[0][1] is None


def test_a_master_that_ignores_the_vehicle_is_caught_starting_an_update_while_it_moves(
        bench_config: BenchConfig, scenarios: dict[str, CampaignScenario], tmp_path: Path) -> None:
    with pytest.raises(StartedWhileUnsafe, match="eps's update began"):
        play(bench_config, scenarios[PARKS_AGAIN], tmp_path, SkipsPreconditions)


def test_abort_rolls_back_at_once(bench_config: BenchConfig, scenarios: dict[str, CampaignScenario],
                                  tmp_path: Path) -> None:
    scenario = scenarios[PARKS_AGAIN]
    policy = scenario.preconditions
    assert policy is not None
    aborting = replace(scenario, expect=("rolled_back",), vehicle="object",  # on the bus, bcm would refuse
                       preconditions=policy.model_copy(update={"on_violation": "abort"}))   # its erase
    run = play(bench_config, aborting, tmp_path, UpdateMaster)
    assert run.report is not None and run.report.reason.startswith("preconditions broken: speed")
    assert "suspended" not in points(run)


@pytest.mark.parametrize(("policy", "scenario", "error"), [
    ("suspend", "{fault: master_reset, at: accepted, parks_after: 1}",
     "campaign-demo.yaml:6: scenarios[0].parks_after: parks_after is for moving_vehicle, not master_reset"),
    ("pause", "{fault: moving_vehicle, at: accepted}", "campaign-demo.yaml:4: preconditions.on_violation"),
])
def test_a_policy_or_parks_after_mistake_names_its_line(tmp_path: Path, policy: str, scenario: str,
                                                         error: str) -> None:
    path = tmp_path / "campaign-demo.yaml"
    path.write_text("vehicle_campaign: demo\ntargets:\n  bcm: {from: [\"1.0.0\", app-1.0.0], to: [\"1.1.0\", "
                    f"app-1.1.0]}}\npreconditions: {{on_violation: {policy}}}\nscenarios:\n  - {scenario}\n")
    with pytest.raises(ConfigError) as raised:
        load_campaign_catalog(path, ecus={"bcm"}, sources=package_sources(ROOT))
    assert error in str(raised.value)


def test_a_catalog_without_vehicle_runs_on_the_bus_when_the_bench_has_a_rest_bus(
        bench_config: BenchConfig, scenarios: dict[str, CampaignScenario], tmp_path: Path) -> None:
    seen: list[tuple[Bench, CampaignRun]] = []
    with_restbus = bench_config.model_copy(update={"restbus": RestBusConfig(buses=["body", "powertrain"])})
    run = play(with_restbus, replace(scenarios[PARKS_AGAIN], vehicle=None), tmp_path, UpdateMaster, seen)
    assert run.outcome == "committed"
    rig, _ = seen[0]
    assert rig.vehicle is not None and [name for _, name, _ in rig.vehicle.changes][-3:] == [
        "speed", "gear", "parking_brake"]            # parked again, on the bus
