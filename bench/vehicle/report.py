"""The status report a vehicle sends back to the cloud after a campaign: the outcome and, per
ECU, the versions and what happened to it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Outcome = Literal["committed", "committing", "rolled_back", "rollback_failed"]
"""``committing``: every target runs its new version, but an ECU did not commit it (the master
finishes the commits at its next start, never rolls back)."""
EcuOutcome = Literal["updated", "uncommitted", "restored", "untouched", "rollback_failed"]
"""``uncommitted``: runs its new version, the campaign ``committing``, its ``commit_bank`` not done yet."""
Rollback = Literal["", "bank_switch", "reflash"]


@dataclass(frozen=True)
class EcuStatus:
    from_version: str
    to_version: str
    running: str | None
    """What the ECU reported last (None: no application)."""
    status: EcuOutcome
    detail: str = ""
    rollback: Rollback = ""
    """How it was brought back: ``bank_switch`` (its previous bank started again, nothing
    downloaded), ``reflash`` (the kept software downloaded), "" (it was not)."""


@dataclass(frozen=True)
class CampaignReport:
    campaign: str
    sequence: int
    outcome: Outcome
    reason: str
    ecus: dict[str, EcuStatus]

    def versions(self) -> dict[str, str | None]:
        return {name: ecu.running for name, ecu in self.ecus.items()}

    def to_dict(self) -> dict[str, object]:
        """The report as the cloud receives it (JSON-ready)."""
        return asdict(self)
