"""Mutant update masters: the reference master with one defect each, the way real masters fail.
The campaign tests must catch every one (tests/test_campaign_mutants.py), as the ECU suites
catch the mutant bootloaders of ``bench.sim.mutants``."""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import FlashError, FlashRolledBack
from bench.vehicle.acceptance import Loaded
from bench.vehicle.manifest import CampaignManifest
from bench.vehicle.journal import CampaignRecord
from bench.vehicle.master import UpdateMaster
from bench.vehicle.report import CampaignReport


class ActivatesBeforeAllVerified(UpdateMaster):
    def _verify_packages(self, manifest: CampaignManifest) -> None:
        """Each package is checked only when its ECU's turn comes (``_update`` loads it)."""


class CommitsBeforeConfirmed(UpdateMaster):
    def _flash(self, name: str, package: Loaded, version: str, *, resume: bool) -> None:
        try:
            super()._flash(name, package, version, resume=resume)
        except FlashRolledBack:  # the ECU did not confirm its new software: not waited for
            pass

    def _confirm(self, manifest: CampaignManifest) -> None:
        """Commits once every package is downloaded, without reading back what the ECUs run."""


class IgnoresOrder(UpdateMaster):
    def _waves(self, manifest: CampaignManifest) -> list[list[str]]:
        return [list(manifest.targets)]


class ForgetsJournal(UpdateMaster):
    def _save(self) -> None:
        """Keeps its progress in RAM only: a reset loses it."""


class SkipsPreconditions(UpdateMaster):
    def _unmet(self, manifest: CampaignManifest) -> list[str]:
        return []


class NeverCommits(UpdateMaster):
    def _commit_ecu(self, name: str) -> str:
        """Journals every ECU committed without sending it ``commit_bank``."""
        return ""


class RollsBackAfterCommitting(UpdateMaster):
    def _commit_ecu(self, name: str) -> str:
        """Sends ``commit_bank`` once, without waiting for a silent ECU."""
        try:
            self._rig.ecu(name).flasher.commit_update()
        except FlashError as exc:
            return str(exc)
        return ""

    def _commit_failed(self, manifest: CampaignManifest, record: CampaignRecord, failure: str) -> CampaignReport:
        """One failed ``commit_bank`` rolls the whole campaign back, the ECUs already committed too."""
        record.failure = failure
        return self._roll_back(manifest, record)


@dataclass(frozen=True)
class MutantMaster:
    name: str
    what: str
    master: type[UpdateMaster]


MUTANT_MASTERS = {mutant.name: mutant for mutant in (
    MutantMaster("activates_before_all_verified", "flashes and activates an ECU before every package of the "
                 "campaign is verified", ActivatesBeforeAllVerified),
    MutantMaster("commits_before_confirmed", "commits once the packages are downloaded, without every ECU "
                 "having confirmed its new software", CommitsBeforeConfirmed),
    MutantMaster("ignores_order", "flashes every ECU at once, whatever the manifest's dependencies", IgnoresOrder),
    MutantMaster("forgets_journal", "keeps its progress in RAM only: after a reset it knows of no campaign",
                 ForgetsJournal),
    MutantMaster("skips_preconditions", "never reads the vehicle's state: updates a moving car",
                 SkipsPreconditions),
    MutantMaster("never_commits", "reports the campaign committed without sending commit_bank: the "
                 "anti-rollback counters stay where they were", NeverCommits),
    MutantMaster("rolls_back_after_committing", "rolls the campaign back when one ECU's commit_bank fails, "
                 "although the ECUs committed before it can no longer take their old software",
                 RollsBackAfterCommitting),
)}
"""Mutant update masters by name."""
