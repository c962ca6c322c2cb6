"""The reference update master runs campaigns on the virtual bench (bcm single bank, bms A/B,
eps HIS): all-or-nothing, rollback of every ECU when one fails, resuming after its own reset.
Oracle of every test: the versions are the campaign's old set or its new set, never a mix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.rig import Bench
from bench.scenarios.campaign_oracles import check_order, check_report
from campaigns import (UPDATE, MasterReset, Vehicle, flash_times, make_master, read_manifest, running_versions,
                       virtual_bench, write_campaign)

OLD = {"bcm": "1.0.0", "eps": "1.0.0", "bms": "1.0.0"}
NEW = {"bcm": "1.1.0", "eps": "2.0.0", "bms": "1.1.0"}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Bench]:
    with Bench(virtual_bench(), workdir=tmp_path / "bench", gateway=False) as bench:
        yield bench


def flashed_order(rig: Bench) -> list[tuple[str, str]]:
    return [(name, result.version) for name, _, result in sorted(
        rig.flash_results(), key=lambda item: item[2].timeline.steps[0].start)]


def test_a_campaign_updates_every_ecu_in_dependency_order_and_commits(rig: Bench, tmp_path: Path) -> None:
    path = write_campaign(tmp_path / "cloud")
    report = make_master(rig, tmp_path).run(path)
    assert report.outcome == "committed", report.reason
    assert running_versions(rig) == NEW
    assert {name: ecu.status for name, ecu in report.ecus.items()} == dict.fromkeys(NEW, "updated")
    check_report(report, running_versions(rig))
    check_order(read_manifest(path), flash_times(rig))  # bms after bcm and eps
    assert sorted(name for name, _ in flashed_order(rig)) == ["bcm", "bms", "eps"]


def test_an_ecu_refusing_its_package_rolls_every_ecu_back(rig: Bench, tmp_path: Path) -> None:
    targets = {**UPDATE, "bms": (("1.0.0", "app-1.0.0"), ("2.0.0", "app-2.0.0-foreign"))}
    report = make_master(rig, tmp_path).run(write_campaign(tmp_path / "cloud", targets=targets))
    assert report.outcome == "rolled_back"
    assert "bms" in report.reason
    assert running_versions(rig) == OLD
    assert {name: ecu.status for name, ecu in report.ecus.items()} == {
        "bcm": "restored", "eps": "restored", "bms": "restored"}
    check_report(report, running_versions(rig))
    flashed = flashed_order(rig)
    assert flashed[:2] in ([("bcm", "1.1.0"), ("eps", "2.0.0")], [("eps", "2.0.0"), ("bcm", "1.1.0")])
    assert flashed[2] == ("bms", "2.0.0")
    assert sorted(flashed[3:]) == [("bcm", "1.0.0"), ("eps", "1.0.0")]  # bms refused: nothing to undo


def test_a_vehicle_driven_off_between_waves_is_rolled_back(rig: Bench, tmp_path: Path) -> None:
    vehicle = Vehicle()
    stopped = make_master(rig, tmp_path, vehicle, stop_at="installed:eps")
    with pytest.raises(MasterReset):
        stopped.run(write_campaign(tmp_path / "cloud"))
    vehicle.drive_off()
    report = make_master(rig, tmp_path, vehicle).recover()
    assert report is not None and report.outcome == "rolled_back"
    assert "speed 12 km/h" in report.reason
    assert running_versions(rig) == OLD
    assert {name: ecu.status for name, ecu in report.ecus.items()} == {
        "bcm": "restored", "eps": "restored", "bms": "untouched"}  # bms's wave never started


def test_a_master_reset_in_the_middle_resumes_from_its_journal(rig: Bench, tmp_path: Path) -> None:
    manifest = write_campaign(tmp_path / "cloud")
    with pytest.raises(MasterReset):
        make_master(rig, tmp_path, stop_at="installed:bcm").run(manifest)
    first = flashed_order(rig)
    with pytest.raises(UsageError, match="campaign cmp-1 is unfinished in .*journal.json: recover"):
        make_master(rig, tmp_path).run(manifest)  # a master finishes what its journal holds first
    resumed = make_master(rig, tmp_path)
    assert resumed.campaign is not None and resumed.campaign.ecus["bcm"] == "installed"
    report = resumed.recover()
    assert report is not None and report.outcome == "committed", report.reason
    assert running_versions(rig) == NEW
    assert [name for name, _ in flashed_order(rig)].count("bcm") == 1  # not started over blind
    assert ("bcm", "1.1.0") in first
    assert make_master(rig, tmp_path).recover() is None  # finished: nothing left to do at the next start


def test_a_master_reset_during_rollback_goes_on_rolling_back(rig: Bench, tmp_path: Path) -> None:
    targets = {**UPDATE, "bms": (("1.0.0", "app-1.0.0"), ("2.0.0", "app-2.0.0-foreign"))}
    manifest = write_campaign(tmp_path / "cloud", targets=targets)
    with pytest.raises(MasterReset):
        make_master(rig, tmp_path, stop_at="restored:eps").run(manifest)
    report = make_master(rig, tmp_path).recover()
    assert report is not None and report.outcome == "rolled_back"
    assert running_versions(rig) == OLD
    assert [name for name, result in flashed_order(rig)].count("eps") == 2  # restored once, not again


def test_a_whole_vehicle_power_loss_in_a_download_resumes_that_download(rig: Bench, tmp_path: Path) -> None:
    manifest = write_campaign(tmp_path / "cloud")
    with pytest.raises(MasterReset):
        make_master(rig, tmp_path, stop_at="downloading:bms", whole_vehicle=True).run(manifest)
    for supply in rig.supplies.values():
        supply.on()
    resumed = make_master(rig, tmp_path)
    assert resumed.campaign is not None and resumed.campaign.ecus == {
        "bcm": "installed", "eps": "installed", "bms": "flashing"}
    report = resumed.recover()
    assert report is not None and report.outcome == "committed", report.reason
    assert running_versions(rig) == NEW
    bms = rig.ecu("bms").reads().flashes
    assert len(bms) == 2 and bms[1].resumed_from > 0  # the download went on where the power loss stopped it
