"""What a flash attempt did: the outcome the flasher returns (or attaches to its FlashError)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from bench.flash.timeline import Timeline

Progress = Callable[[int, int], None]
"""Called with (bytes programmed so far, bytes to program) after every block."""


@dataclass
class FlashResult:
    ecu: str
    version: str
    timeline: Timeline
    resumed_from: int = 0
    """Offset the download continued from (0 for a full download)."""
    blocks_sent: int = 0
    bytes_sent: int = 0
    retries: int = 0
    version_after: str | None = None
    block_size: int = 0
    failure: str | None = None
    """Why the attempt stopped (the FlashError's message); None when it completed."""
    package: Literal["full", "delta", "bank_switch"] = "full"
    """What was downloaded: the image, a delta package the ECU patches its image with, or nothing
    (``bank_switch``: an A/B ECU started its previous bank again, ``bench.flash.bank_switch``)."""
    package_reason: str = ""
    """Why that one (set when a delta package was offered)."""
    version_before: str | None = None
    """What the ECU ran before (None: no valid application, or not read yet)."""
    rolled_back: bool = False
    """The ECU went back to ``version_before`` after the download: the flash did not take."""
    software: str = ""
    """Software files flashed by the ECU's flash specification: the digest of their logical blocks."""
    blocks_done: int = 0
    """Logical blocks this attempt programmed and checked (a flash by specification)."""
    resumed_block: int | None = None
    """The logical block (by position) a resumed flash by specification started again from."""
    resume_note: str = ""
    """Where a flash by specification started its logical blocks, and why when it resumed or was asked to
    (``bench.flash.block_resume``)."""
    dids_read: dict[int, str] = field(default_factory=dict)
    """What the flash specification's ``read_did`` steps read (DID: value as the step decodes it)."""
