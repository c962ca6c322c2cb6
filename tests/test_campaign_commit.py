"""The commit is the campaign's point of no return: the master journals ``committing`` before the
first ``commit_bank``, never rolls back from there, tries a failed commit again, leaves the
campaign ``committing`` when an ECU still will not commit, and ``recover()`` finishes the commits
from the journal. bcm (single bank) and bms (A/B) raise their security version 1 -> 2, so a
committed bcm can no longer take its old software."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.rig import Bench
from bench.scenarios.campaign_oracles import CampaignUnfinished, check_finished
from bench.vehicle.master import COMMIT_ATTEMPTS
from campaigns import (MasterReset, anti_rollback_counters, make_master, refuse_commits, virtual_bench,
                       write_campaign)

RAISED = {name: (("1.0.0", "app-1.0.0"), ("2.0.0", "app-2.0.0")) for name in ("bcm", "bms")}
"""bcm, then bms (committed in this order), raise their security version 1 -> 2."""


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Bench]:
    with Bench(virtual_bench(), workdir=tmp_path / "bench", ecus=["bcm", "bms"], gateway=False) as bench:
        yield bench


def campaign(tmp_path: Path) -> Path:
    return write_campaign(tmp_path / "cloud", targets=RAISED, after={"bms": ["bcm"]})


def journal(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "master-nvm" / "journal.json").read_text())["campaign"]


def test_an_ecu_that_will_not_commit_leaves_the_campaign_committing_never_rolled_back(rig: Bench,
                                                                                      tmp_path: Path) -> None:
    bms = refuse_commits(rig, "bms", COMMIT_ATTEMPTS)
    report = make_master(rig, tmp_path).run(campaign(tmp_path))
    assert report.outcome == "committing"
    assert report.reason.startswith(f"bms not committed: attempt {COMMIT_ATTEMPTS} of {COMMIT_ATTEMPTS}: ")
    assert {name: (ecu.running, ecu.status) for name, ecu in report.ecus.items()} == {
        "bcm": ("2.0.0", "updated"), "bms": ("2.0.0", "uncommitted")}
    assert bms == ["refused"] * COMMIT_ATTEMPTS
    assert sorted((name, result.version) for name, _, result in rig.flash_results()) == [
        ("bcm", "2.0.0"), ("bms", "2.0.0")]  # nothing rolled back
    assert anti_rollback_counters(rig, RAISED) == {"bcm": 2, "bms": 1}
    record = journal(tmp_path)
    assert (record["phase"], record["ecus"]) == ("committing", {"bcm": "committed", "bms": "installed"})
    with pytest.raises(CampaignUnfinished, match="left the campaign committing .*: bms not committed"):
        check_finished(report.outcome, report.reason)
    with pytest.raises(UsageError, match="unfinished .* recover"):
        make_master(rig, tmp_path).run(campaign(tmp_path))


def test_recover_finishes_the_commits_of_a_campaign_left_committing(rig: Bench, tmp_path: Path) -> None:
    refuse_commits(rig, "bms", COMMIT_ATTEMPTS)
    assert make_master(rig, tmp_path).run(campaign(tmp_path)).outcome == "committing"
    bcm = refuse_commits(rig, "bcm", 0)  # counts the commits sent to bcm from here
    report = make_master(rig, tmp_path).recover()  # the next start: bms commits now
    assert report is not None and (report.outcome, report.reason) == ("committed", "")
    assert {name: ecu.status for name, ecu in report.ecus.items()} == {"bcm": "updated", "bms": "updated"}
    assert bcm == []  # the journal holds bcm committed
    assert anti_rollback_counters(rig, RAISED) == {"bcm": 2, "bms": 2}
    assert journal(tmp_path)["phase"] == "committed"
    assert make_master(rig, tmp_path).recover() is None


def test_a_commit_refused_once_is_sent_again(rig: Bench, tmp_path: Path) -> None:
    bms = refuse_commits(rig, "bms", 1)
    report = make_master(rig, tmp_path).run(campaign(tmp_path))
    assert (report.outcome, report.reason) == ("committed", "")
    assert bms == ["refused", "sent"]
    assert anti_rollback_counters(rig, RAISED) == {"bcm": 2, "bms": 2}


def test_a_master_reset_between_two_commits_resumes_them_from_the_journal(rig: Bench, tmp_path: Path) -> None:
    with pytest.raises(MasterReset):
        make_master(rig, tmp_path, stop_at="committing:bms", whole_vehicle=True).run(campaign(tmp_path))
    assert (journal(tmp_path)["phase"], journal(tmp_path)["ecus"]) == (
        "committing", {"bcm": "committed", "bms": "installed"})
    for supply in rig.supplies.values():
        supply.on()
    bcm, bms = refuse_commits(rig, "bcm", 0), refuse_commits(rig, "bms", 0)
    report = make_master(rig, tmp_path).recover()
    assert report is not None and report.outcome == "committed", report.reason
    assert (bcm, bms) == ([], ["sent"])
    assert anti_rollback_counters(rig, RAISED) == {"bcm": 2, "bms": 2}


def test_commit_bank_sent_again_to_a_committed_ecu_is_accepted(rig: Bench, tmp_path: Path) -> None:
    """A commit whose answer was lost is sent again after a reset: the bootloader takes it as done."""
    assert make_master(rig, tmp_path).run(campaign(tmp_path)).outcome == "committed"
    rig.ecu("bcm").flasher.commit_update()
    assert anti_rollback_counters(rig, RAISED) == {"bcm": 2, "bms": 2}
    assert rig.ecu("bcm").diagnostics.read_version() == "2.0.0"
