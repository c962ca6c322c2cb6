"""How the reference master brings each ECU back when a campaign fails after the A/B ECU runs
its new software: the A/B ECU (bms)
by switching back to its previous bank, nothing downloaded (the bus monitor says so), the
single-bank one (bcm) by re-flashing the software it kept; the report and the oracle say which.
A committed campaign leaves the A/B ECU nothing to switch back to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.errors import FlashError
from bench.flash import FlashResult
from bench.flash.timeline import Timeline
from bench.rig import Bench
from bench.scenarios.campaign_oracles import (CounterMoved, CounterNotCommitted, RollbackMisreported, check_counters,
                                              check_report, check_rollbacks)
from bench.vehicle.report import CampaignReport, EcuStatus
from campaigns import make_master, read_manifest, virtual_bench, write_campaign

SWITCH_BANK = 0x0210
LATE_FAILURE = {"bms": (("1.0.0", "app-1.0.0"), ("1.1.0", "app-1.1.0")),
                "bcm": (("1.0.0", "app-1.0.0"), ("2.0.0", "app-2.0.0-foreign"))}
"""bms is updated first; bcm, after it, refuses its package (signed with a foreign key)."""


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Bench]:
    with Bench(virtual_bench(), workdir=tmp_path / "bench", ecus=["bcm", "bms"], gateway=False) as bench:
        yield bench


def test_a_later_failure_switches_the_ab_ecu_back_and_reflashes_the_single_bank_one(rig: Bench,
                                                                                   tmp_path: Path) -> None:
    monitor = rig.monitor(rig.config.ecus["bms"].bus)
    path = write_campaign(tmp_path / "cloud", targets=LATE_FAILURE, after={"bcm": ["bms"]})
    report = make_master(rig, tmp_path).run(path)
    assert report.outcome == "rolled_back", report.reason
    assert {name: (ecu.running, ecu.status, ecu.rollback) for name, ecu in report.ecus.items()} == {
        "bms": ("1.0.0", "restored", "bank_switch"), "bcm": ("1.0.0", "restored", "reflash")}
    running = {name: rig.ecu(name).diagnostics.read_version() for name in LATE_FAILURE}
    check_report(report, running)
    check_rollbacks(read_manifest(path), report, rig.flash_results())
    bms = [(result.version, result.package) for name, _, result in rig.flash_results() if name == "bms"]
    assert bms == [("1.1.0", "full"), ("1.0.0", "bank_switch")]
    # on the bus: after bms's own update, its rollback is a routine and a reset, no download
    installed = next(result for name, _, result in rig.flash_results() if name == "bms").timeline.steps[-1].end
    assert installed is not None
    monitor.wait_for(lambda event: event.ecu == "bms" and event.kind == "response" and event.routine == SWITCH_BANK,
                     timeout=5.0)
    later = {event.service for event in monitor.events()
             if event.ecu == "bms" and event.kind == "request" and event.time > installed}
    assert {"RoutineControl", "ECUReset"} <= later
    assert not later & {"RequestDownload", "TransferData", "RequestTransferExit"}


def test_a_committed_campaign_leaves_the_ab_ecu_no_bank_to_switch_back_to(rig: Bench, tmp_path: Path) -> None:
    targets = {"bms": LATE_FAILURE["bms"]}
    report = make_master(rig, tmp_path).run(write_campaign(tmp_path / "cloud", targets=targets, after={}))
    assert report.outcome == "committed", report.reason
    with pytest.raises(FlashError, match="ConditionsNotCorrect"):
        rig.ecu("bms").flasher.switch_back("1.0.0")
    assert rig.ecu("bms").diagnostics.read_version() == "1.1.0"


def test_the_oracle_catches_a_rollback_the_bus_contradicts(tmp_path: Path) -> None:
    manifest = read_manifest(write_campaign(tmp_path / "cloud", targets=LATE_FAILURE, after={"bcm": ["bms"]}))
    flashes = [("bms", 1, FlashResult("bms", "1.1.0", Timeline())),
               ("bms", 2, FlashResult("bms", "1.0.0", Timeline())),               # a download of the old
               ("bcm", 1, FlashResult("bcm", "1.0.0", Timeline(), package="bank_switch"))]

    def report(bms: str, bcm: str) -> CampaignReport:
        return CampaignReport("cmp-1", 1, "rolled_back", "", {
            "bms": EcuStatus("1.0.0", "1.1.0", "1.0.0", "restored", rollback=bms),  # type: ignore[arg-type]
            "bcm": EcuStatus("1.0.0", "2.0.0", "1.0.0", "restored", rollback=bcm)})  # type: ignore[arg-type]

    with pytest.raises(RollbackMisreported, match="bms back to 1.0.0 by a bank switch"):
        check_rollbacks(manifest, report("bank_switch", ""), flashes)
    with pytest.raises(RollbackMisreported, match="bcm re-flashed"):
        check_rollbacks(manifest, report("reflash", "reflash"), flashes)
    check_rollbacks(manifest, report("reflash", "bank_switch"), flashes)


def test_a_committed_campaign_moves_every_counter_to_the_new_security_version(rig: Bench, tmp_path: Path) -> None:
    raised = {name: (("1.0.0", "app-1.0.0"), ("2.0.0", "app-2.0.0")) for name in ("bms", "bcm")}
    report = make_master(rig, tmp_path).run(write_campaign(tmp_path / "cloud", targets=raised, after={"bcm": ["bms"]}))
    assert report.outcome == "committed", report.reason
    counters = {}
    for name in raised:
        sim = rig.ecu(name).sim
        assert sim is not None
        counters[name] = sim.anti_rollback_counter()
    assert counters == {"bms": 2, "bcm": 2}   # single bank too: the master sent commit_bank to both


def test_the_counter_oracle_catches_a_counter_moved_before_the_commit_or_kept_by_a_rollback() -> None:
    start, new = {"bcm": 1, "bms": 1}, {"bcm": 2, "bms": 2}
    check_counters("committed", {"start": start, "confirmed": start, "end": {"bcm": 2, "bms": 2}}, new)
    check_counters("rolled_back", {"start": start, "end": start}, {})
    with pytest.raises(CounterMoved, match="before the master committed the campaign .*: bms 1 -> 2$"):
        check_counters("committed", {"start": start, "confirmed": {"bcm": 1, "bms": 2}, "end": {"bcm": 2, "bms": 2}},
                       new)
    with pytest.raises(CounterMoved, match="although the campaign ended rolled_back: bcm 1 -> 2$"):
        check_counters("rolled_back", {"start": start, "end": {"bcm": 2, "bms": 1}}, {})


def test_the_counter_oracle_wants_a_committed_campaign_to_have_raised_every_counter() -> None:
    start = {"bcm": 1, "bms": 3}
    check_counters("committed", {"start": start, "end": {"bcm": 2, "bms": 3}}, {"bcm": 2, "bms": 2})  # never down
    check_counters("committing", {"start": start, "end": {"bcm": 2, "bms": 3}}, {})  # unfinished: not a counter fault
    with pytest.raises(CounterNotCommitted, match=r"committed, but .*: bcm 1 -> 1 \(its new software's security "
                                                  r"version is 2\)$"):
        check_counters("committed", {"start": start, "end": {"bcm": 1, "bms": 3}}, {"bcm": 2, "bms": 2})
    with pytest.raises(CounterNotCommitted, match=r"bms 3 -> 4 "):
        check_counters("committed", {"start": start, "end": {"bcm": 2, "bms": 4}}, {"bcm": 2, "bms": 2})
