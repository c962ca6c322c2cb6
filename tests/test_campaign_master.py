"""The reference update master runs campaigns on the virtual bench (bcm single bank, bms A/B,
eps HIS): all-or-nothing, rollback of every ECU when one fails, resuming after its own reset.
Oracle of every test: the versions are the campaign's old set or its new set, never a mix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.image import load_public_key
from bench.rig import Bench
from bench.vehicle.master import UpdateMaster
from bench.vehicle.report import CampaignReport
from campaigns import DEV_PUB, NOW, UPDATE, Vehicle, virtual_bench, write_campaign

OLD = {"bcm": "1.0.0", "eps": "1.0.0", "bms": "1.0.0"}
NEW = {"bcm": "1.1.0", "eps": "2.0.0", "bms": "1.1.0"}


class MasterReset(Exception):
    """The master loses power where a test's probe says."""


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Bench]:
    with Bench(virtual_bench(), workdir=tmp_path / "bench", gateway=False) as bench:
        yield bench


def master(rig: Bench, tmp_path: Path, vehicle: Vehicle | None = None, stop_at: str = "") -> UpdateMaster:
    def probe(point: str) -> None:
        if point == stop_at:
            raise MasterReset(point)

    return UpdateMaster(rig, tmp_path / "master-nvm", load_public_key(DEV_PUB), vehicle or Vehicle(),
                        clock=lambda: NOW, probe=probe)


def versions(rig: Bench) -> dict[str, str | None]:
    return {name: rig.ecu(name).diagnostics.read_version() for name in OLD}


def flashed_order(rig: Bench) -> list[tuple[str, str]]:
    return [(name, result.version) for name, _, result in sorted(
        rig.flash_results(), key=lambda item: item[2].timeline.steps[0].start)]


def assert_report_matches(report: CampaignReport, rig: Bench) -> None:
    assert report.versions() == versions(rig)


def test_a_campaign_updates_every_ecu_in_dependency_order_and_commits(rig: Bench, tmp_path: Path) -> None:
    report = master(rig, tmp_path).run(write_campaign(tmp_path / "cloud"))
    assert report.outcome == "committed", report.reason
    assert versions(rig) == NEW
    assert {name: ecu.status for name, ecu in report.ecus.items()} == dict.fromkeys(NEW, "updated")
    assert_report_matches(report, rig)
    order = [name for name, _ in flashed_order(rig)]
    assert order[-1] == "bms" and sorted(order) == ["bcm", "bms", "eps"]  # bms after bcm and eps


def test_an_ecu_refusing_its_package_rolls_every_ecu_back(rig: Bench, tmp_path: Path) -> None:
    targets = {**UPDATE, "bms": (("1.0.0", "app-1.0.0"), ("2.0.0", "app-2.0.0-foreign"))}
    report = master(rig, tmp_path).run(write_campaign(tmp_path / "cloud", targets=targets))
    assert report.outcome == "rolled_back"
    assert "bms" in report.reason
    assert versions(rig) == OLD
    assert {name: ecu.status for name, ecu in report.ecus.items()} == {
        "bcm": "restored", "eps": "restored", "bms": "restored"}
    assert_report_matches(report, rig)
    flashed = flashed_order(rig)
    assert flashed[:2] in ([("bcm", "1.1.0"), ("eps", "2.0.0")], [("eps", "2.0.0"), ("bcm", "1.1.0")])
    assert flashed[2] == ("bms", "2.0.0")
    assert sorted(flashed[3:]) == [("bcm", "1.0.0"), ("eps", "1.0.0")]  # bms refused: nothing to undo


def test_a_vehicle_driven_off_between_waves_is_rolled_back(rig: Bench, tmp_path: Path) -> None:
    vehicle = Vehicle()
    stopped = master(rig, tmp_path, vehicle, stop_at="installed:eps")
    with pytest.raises(MasterReset):
        stopped.run(write_campaign(tmp_path / "cloud"))
    vehicle.drive_off()
    report = master(rig, tmp_path, vehicle).recover()
    assert report is not None and report.outcome == "rolled_back"
    assert "speed 12 km/h" in report.reason
    assert versions(rig) == OLD


def test_a_master_reset_in_the_middle_resumes_from_its_journal(rig: Bench, tmp_path: Path) -> None:
    manifest = write_campaign(tmp_path / "cloud")
    with pytest.raises(MasterReset):
        master(rig, tmp_path, stop_at="installed:bcm").run(manifest)
    first = flashed_order(rig)
    resumed = master(rig, tmp_path)
    assert resumed.campaign is not None and resumed.campaign.ecus["bcm"] == "installed"
    report = resumed.recover()
    assert report is not None and report.outcome == "committed", report.reason
    assert versions(rig) == NEW
    assert [name for name, _ in flashed_order(rig)].count("bcm") == 1  # not started over blind
    assert ("bcm", "1.1.0") in first
    assert master(rig, tmp_path).recover() is None  # finished: nothing left to do at the next start


def test_a_master_reset_during_rollback_goes_on_rolling_back(rig: Bench, tmp_path: Path) -> None:
    targets = {**UPDATE, "bms": (("1.0.0", "app-1.0.0"), ("2.0.0", "app-2.0.0-foreign"))}
    manifest = write_campaign(tmp_path / "cloud", targets=targets)
    with pytest.raises(MasterReset):
        master(rig, tmp_path, stop_at="restored:eps").run(manifest)
    report = master(rig, tmp_path).recover()
    assert report is not None and report.outcome == "rolled_back"
    assert versions(rig) == OLD
    assert [name for name, result in flashed_order(rig)].count("eps") == 2  # restored once, not again
