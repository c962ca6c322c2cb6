"""Mutation testing of the campaign checks: every mutant update master (``bench.vehicle.mutants``)
is caught by the check of the scenario named for it, and the reference master passes the same
check. A check that passed both would mean the campaign tests miss that defect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bench.rig import Bench
from bench.scenarios.campaign_oracles import (CounterMoved, CounterNotCommitted, MixedVersions, OrderBroken,
                                              check_counters, check_old_or_new_set, check_order)
from bench.scenarios.oracles import OutcomeViolation
from bench.vehicle.acceptance import CampaignRefused
from bench.vehicle.master import UpdateMaster
from bench.vehicle.mutants import MUTANT_MASTERS
from campaigns import (PARKED, UPDATE, MasterReset, Vehicle, anti_rollback_counters, flash_times, make_master,
                       read_manifest, refuse_commits, running_versions, virtual_bench, write_campaign)


class UpdatedUnsafely(OutcomeViolation):
    """The master flashed an ECU it should not have: the campaign was to be refused."""


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Bench]:
    with Bench(virtual_bench(), workdir=tmp_path / "bench", gateway=False) as bench:
        yield bench


Scenario = Callable[[Bench, Path, type[UpdateMaster]], None]


def refused_before_flashing(rig: Bench, run: Callable[[], object]) -> None:
    try:
        run()
    except CampaignRefused:
        pass
    if rig.flash_results():
        raise UpdatedUnsafely(f"flashed {', '.join(name for name, _, _ in rig.flash_results())} "
                              "although the campaign was to be refused")


def bad_package_last(rig: Bench, tmp_path: Path, kind: type[UpdateMaster]) -> None:
    """eps's new software, flashed after bcm's on their bus, is not the manifest's: nothing may be flashed."""
    manifest = write_campaign(tmp_path / "cloud")
    software = manifest.parent / "eps-2.0.0.hex"
    software.write_text(software.read_text() + "\n")
    refused_before_flashing(rig, lambda: make_master(rig, tmp_path, kind=kind).run(manifest))


def unconfirmed_ecu(rig: Bench, tmp_path: Path, kind: type[UpdateMaster]) -> None:
    """bms's new software fails its self test: the A/B ECU goes back to its old bank."""
    targets = {**UPDATE, "bms": (UPDATE["bms"][0], ("2.0.0-bad", "app-2.0.0-selftest-fail"))}
    manifest = write_campaign(tmp_path / "cloud", targets=targets)
    make_master(rig, tmp_path, kind=kind).run(manifest)
    check_old_or_new_set(read_manifest(manifest), running_versions(rig))


def dependencies(rig: Bench, tmp_path: Path, kind: type[UpdateMaster]) -> None:
    """bms, listed first, depends on bcm and eps."""
    manifest = write_campaign(tmp_path / "cloud", targets={"bms": UPDATE["bms"], "bcm": UPDATE["bcm"],
                                                           "eps": UPDATE["eps"]})
    make_master(rig, tmp_path, kind=kind).run(manifest)
    check_order(read_manifest(manifest), flash_times(rig))


def master_reset(rig: Bench, tmp_path: Path, kind: type[UpdateMaster]) -> None:
    """The master loses power once bcm is updated, then starts again."""
    manifest = write_campaign(tmp_path / "cloud")
    with pytest.raises(MasterReset):
        make_master(rig, tmp_path, stop_at="installed:bcm", kind=kind).run(manifest)
    make_master(rig, tmp_path, kind=kind).recover()
    check_old_or_new_set(read_manifest(manifest), running_versions(rig))


def moving_vehicle(rig: Bench, tmp_path: Path, kind: type[UpdateMaster]) -> None:
    vehicle = Vehicle(replace(PARKED, speed=30.0, gear="D", parking_brake=False))
    manifest = write_campaign(tmp_path / "cloud")
    refused_before_flashing(rig, lambda: make_master(rig, tmp_path, vehicle, kind=kind).run(manifest))


RAISED = {name: (("1.0.0", "app-1.0.0"), ("2.0.0", "app-2.0.0")) for name in ("bcm", "bms")}
"""bcm, then bms, raise their security version 1 -> 2 (fixtures/firmware/app-2.0.0.yaml)."""


def raising_campaign(rig: Bench, tmp_path: Path, kind: type[UpdateMaster]) -> None:
    """Committed or not, the counters are where the campaign's outcome says."""
    start = anti_rollback_counters(rig, RAISED)
    report = make_master(rig, tmp_path, kind=kind).run(write_campaign(tmp_path / "cloud", targets=RAISED,
                                                                      after={"bms": ["bcm"]}))
    check_counters(report.outcome, {"start": start, "end": anti_rollback_counters(rig, RAISED)},
                   dict.fromkeys(RAISED, 2))


def commit_refused_once(rig: Bench, tmp_path: Path, kind: type[UpdateMaster]) -> None:
    """bms refuses its first commit_bank, once bcm committed (its counter at 2, its old software gone)."""
    refuse_commits(rig, "bms", 1)
    raising_campaign(rig, tmp_path, kind)


CAUGHT_BY: dict[str, tuple[Scenario, type[OutcomeViolation]]] = {
    "activates_before_all_verified": (bad_package_last, UpdatedUnsafely),
    "commits_before_confirmed": (unconfirmed_ecu, MixedVersions),
    "ignores_order": (dependencies, OrderBroken),
    "forgets_journal": (master_reset, MixedVersions),
    "skips_preconditions": (moving_vehicle, UpdatedUnsafely),
    "never_commits": (raising_campaign, CounterNotCommitted),
    "rolls_back_after_committing": (commit_refused_once, CounterMoved),
}


def test_every_mutant_master_has_a_scenario_that_catches_it() -> None:
    assert CAUGHT_BY.keys() == MUTANT_MASTERS.keys()


@pytest.mark.parametrize("mutant", CAUGHT_BY)
def test_the_mutant_master_is_caught(rig: Bench, tmp_path: Path, mutant: str) -> None:
    scenario, violation = CAUGHT_BY[mutant]
    with pytest.raises(violation):
        scenario(rig, tmp_path, MUTANT_MASTERS[mutant].master)


@pytest.mark.parametrize("mutant", CAUGHT_BY)
def test_the_reference_master_passes_the_same_scenario(rig: Bench, tmp_path: Path, mutant: str) -> None:
    scenario, _ = CAUGHT_BY[mutant]
    scenario(rig, tmp_path, UpdateMaster)
