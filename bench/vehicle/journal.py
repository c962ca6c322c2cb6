"""The update master's own NVM: its campaign journal, one JSON file replaced atomically (write
a new file, flush it to disk, rename it over the old one), so a power loss leaves the old
record or the new one, never half of one; and the previous software it keeps for a rollback."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from bench.durable import write_json

Phase = Literal["installing", "committing", "rolling_back", "committed", "rolled_back", "rollback_failed"]
"""``committing``: every target confirmed its new version and the commits began; never rolled back from there."""
EcuProgress = Literal["pending", "flashing", "installed", "committed", "restoring", "restored", "rollback_failed"]
Rollback = Literal["bank_switch", "reflash"]
"""How an ECU is brought back: its previous bank started again (A/B), or the kept software re-flashed."""
FINISHED = ("committed", "rolled_back", "rollback_failed")


@dataclass
class CampaignRecord:
    campaign: str
    sequence: int
    manifest_path: str
    manifest_text: str
    """The accepted manifest as it was signed: a resumed campaign is this one, whatever the file says now."""
    phase: Phase = "installing"
    ecus: dict[str, EcuProgress] = field(default_factory=dict)
    failure: str = ""
    rollbacks: dict[str, Rollback] = field(default_factory=dict)
    """ECU -> how the master is bringing it back (journaled before it begins)."""

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED


@dataclass
class MasterRecord:
    last_sequence: int = 0
    """The sequence number of the last campaign accepted: a manifest not above it is a replay."""
    campaign: CampaignRecord | None = None


class MasterNvm:
    """The journal file ``journal.json`` and the kept software ``kept/<ecu>/`` under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "journal.json"
        directory.mkdir(parents=True, exist_ok=True)
        self.record = self._load()

    def _load(self) -> MasterRecord:
        if not self.path.exists():
            return MasterRecord()
        data = json.loads(self.path.read_text())
        campaign = data.get("campaign")
        return MasterRecord(data["last_sequence"], CampaignRecord(**campaign) if campaign else None)

    def save(self) -> None:
        write_json(self.path, asdict(self.record))

    def keep(self, ecu: str, image: Path) -> Path:
        """A copy of ``image`` (the software ``ecu`` runs before the campaign), for a rollback."""
        kept = self.directory / "kept" / ecu / image.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image, kept)
        return kept

    def kept(self, ecu: str, image: Path) -> Path:
        return self.directory / "kept" / ecu / image.name
