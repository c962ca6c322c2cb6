"""What the bootloader keeps in its EEPROM: bank validity, trial-boot state, journal, counters,
and the delta job in progress."""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields, is_dataclass

from bench.dids import DownloadJournal
from bench.sim.nvm import Eeprom


@dataclass
class BankRecord:
    valid: bool = False
    version: str = ""
    security_version: int = 0


@dataclass
class BootloaderRecord:
    banks: list[BankRecord]
    active_bank: int = 0
    pending_bank: int | None = None
    """A/B: a verified bank waiting for its trial boot and the application's confirmation."""
    fallback_bank: int | None = None
    """A/B: the bank that ran before the last confirmed update, kept as it was: the tester may
    switch back to it (routine ``switch_bank``) until it commits the update (``commit_bank``)
    or the bank is written again."""
    boot_attempts: int = 0
    """Starts of the image on trial (A/B) or of a failing application (single bank)."""
    anti_rollback: int = 0
    """The committed security version: images below it are refused. It moves only when an update
    is committed (``bench.sim.boot``); an uncommitted one's is its bank's ``security_version``."""
    journal_digest: str = ""
    journal_total: int = 0
    journal_committed: int = 0
    journal_area: str = "bank"
    """Where the journal's download goes: ``bank`` (an image) or ``staging`` (a delta package)."""
    security_failures: int = 0
    fingerprint: str = ""
    patch_type: str = ""
    """A delta job armed or in progress: ``sequential`` or ``in-place`` ("" when there is none)."""
    patch_bank: int = 0
    """The bank the job writes the target image into."""
    patch_package: str = ""
    """SHA-256 (hex) of the staged package's header: the job applies that package and no other."""
    patch_steps_done: int = 0
    """Patch steps (sectors) written; after a power loss the job continues with the next one."""

    @property
    def journal(self) -> DownloadJournal:
        digest = bytes.fromhex(self.journal_digest) if self.journal_digest else bytes(32)
        return DownloadJournal(digest, self.journal_total, self.journal_committed)

    def clear_journal(self) -> None:
        self.journal_digest, self.journal_total, self.journal_committed = "", 0, 0
        self.journal_area = "bank"

    def clear_patch(self) -> None:
        self.patch_type, self.patch_bank, self.patch_package, self.patch_steps_done = "", 0, "", 0


class RecordStore:
    """Load once per power-on, save after every change (each save is one atomic EEPROM write)."""

    def __init__(self, eeprom: Eeprom, bank_count: int) -> None:
        self._eeprom = eeprom
        raw = eeprom.load()
        if raw:
            banks = [BankRecord(**b) for b in raw.pop("banks")]
            self.record = BootloaderRecord(banks=banks, **raw)
        else:
            self.record = BootloaderRecord(banks=[BankRecord() for _ in range(bank_count)])

    def save(self) -> None:
        self._eeprom.store(plain_record(self.record))


def plain_record(record: object) -> dict:
    """What ``dataclasses.asdict`` makes of an EEPROM record (a dataclass of plain values,
    dataclasses and lists of them), without its deep copies: a save costs much less CPU."""
    return {name: _plain(getattr(record, name)) for name in _field_names(type(record))}


_PLAIN = frozenset({str, int, bool, float, type(None)})


def _plain(value: object) -> object:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if is_dataclass(value):
        return plain_record(value)
    raise TypeError(f"an EEPROM record holds plain values, dataclasses and lists, not {type(value).__name__}")


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(field.name for field in fields(kind))
