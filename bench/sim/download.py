"""The reprogramming half of the bootloader: erase, download, transfer, exit, checks.

The download journal is committed to EEPROM at sector granularity: a sector counts as
committed once it is completely programmed. After a power loss a tester resumes with a
RequestDownload at ``region start + committed``; the bootloader re-erases what follows (a torn
page cannot be programmed again without an erase) and the tester re-sends from there — at
most one block when its blocks are a sector long.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from udsoncan.ResponseCode import ResponseCode as RC

from bench.config.models import EcuProfile
from bench.image import HEADER_SIZE, ImageHeader
from bench.sim.boot import CHECK_OK, BankLayout, BootManager, VerificationFailed
from bench.sim.nrc import Nrc
from bench.sim.nvm import FlashMemory, FlashProgrammingError
from bench.sim.record import RecordStore


@dataclass
class _Download:
    bank: int
    offset: int  # next byte to program, relative to the bank start
    end: int
    expected_counter: int = 1
    last_accepted: int | None = None


class DownloadManager:
    def __init__(self, profile: EcuProfile, layout: BankLayout, flash: FlashMemory, store: RecordStore,
                 boot: BootManager) -> None:
        self._profile = profile
        self._layout = layout
        self._flash = flash
        self._store = store
        self._boot = boot
        self._active: _Download | None = None

    @property
    def max_data_per_block(self) -> int:
        return self._profile.max_block_length - 2

    def _region(self, address: int, size: int) -> int:
        """Offset of [address, address+size) inside the download region, or NRC 0x31."""
        start = self._profile.memory.address
        rel = address - start
        if rel < 0 or size <= 0 or rel + size > self._layout.bank_size:
            raise Nrc(RC.RequestOutOfRange, f"{address:#x}+{size:#x} outside {start:#x}+{self._layout.bank_size:#x}")
        return rel

    def _sector_span(self, rel: int, size: int) -> tuple[int, int]:
        sector = self._flash.sector_size
        first = rel // sector * sector
        end = -(-(rel + size) // sector) * sector
        return first, min(end, self._layout.bank_size) - first

    def erase(self, address: int, size: int) -> None:
        """Routine EraseMemory: invalidates the target bank first, so a cut erase never boots."""
        rel = self._region(address, size)
        bank = self._boot.target_bank()
        rec = self._store.record
        rec.banks[bank].valid = False
        if rec.pending_bank == bank:
            rec.pending_bank = None
        rec.clear_journal()
        self._store.save()
        self._active = None
        first, length = self._sector_span(rel, size)
        self._flash.erase(self._layout.offset(bank) + first, length)

    def request_download(self, address: int, size: int) -> None:
        rel = self._region(address, size)
        bank = self._boot.target_bank()
        base = self._layout.offset(bank)
        rec = self._store.record
        if rel == 0:
            if not self._flash.is_erased(base, size):
                raise Nrc(RC.UploadDownloadNotAccepted, "target memory is not erased")
            rec.journal_digest, rec.journal_total, rec.journal_committed = "", size, 0
            self._store.save()
        else:
            journal = rec.journal
            if not self._profile.resume or journal.empty or journal.committed != rel \
                    or journal.total_length != rel + size:
                raise Nrc(RC.UploadDownloadNotAccepted,
                          f"no download to resume at {rel:#x} (journal: {journal.committed:#x}/{journal.total_length:#x})")
            first, length = self._sector_span(rel, size)
            if not self._flash.is_erased(base + first, length):
                self._flash.erase(base + first, length)
        self._active = _Download(bank=bank, offset=rel, end=rel + size)

    def transfer_data(self, counter: int, data: bytes) -> None:
        dl = self._active
        if dl is None:
            raise Nrc(RC.RequestSequenceError, "no download in progress")
        if counter == dl.last_accepted:
            return  # the tester repeats a block whose response it lost: acknowledge, do not rewrite
        if counter != dl.expected_counter:
            raise Nrc(RC.WrongBlockSequenceCounter, f"expected {dl.expected_counter:#04x}, got {counter:#04x}")
        if not data or len(data) > self.max_data_per_block:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, f"{len(data)} data bytes")
        if dl.offset + len(data) > dl.end:
            raise Nrc(RC.TransferDataSuspended, "more data than RequestDownload announced")
        start = self._layout.offset(dl.bank) + dl.offset
        lead = start % self._flash.page_size  # the previous block ended mid-page: program that page
        try:                                  # again with its first part as it already is
            self._flash.program(start - lead, self._flash.read(start - lead, lead) + data)
        except FlashProgrammingError as exc:
            raise Nrc(RC.GeneralProgrammingFailure, str(exc)) from exc
        dl.offset += len(data)
        dl.last_accepted = counter
        dl.expected_counter = (counter + 1) & 0xFF
        self._commit(dl)

    def _commit(self, dl: _Download) -> None:
        rec = self._store.record
        committed = dl.end if dl.offset == dl.end else dl.offset // self._flash.sector_size * self._flash.sector_size
        changed = committed != rec.journal_committed
        if not rec.journal_digest and dl.offset >= HEADER_SIZE:
            header = self._flash.read(self._layout.offset(dl.bank), HEADER_SIZE)
            rec.journal_digest = hashlib.sha256(header).hexdigest()
            changed = True
        if changed:
            rec.journal_committed = committed
            self._store.save()

    def abort_transfer(self) -> None:
        """A session (re)start ends any transfer in progress; the journal in EEPROM stays."""
        self._active = None

    def request_transfer_exit(self) -> None:
        dl = self._active
        if dl is None or dl.offset != dl.end:
            have = "no download" if dl is None else f"{dl.offset:#x} of {dl.end:#x} bytes"
            raise Nrc(RC.RequestSequenceError, f"transfer not complete ({have})")
        self._active = None

    def check_memory(self) -> int:
        """Routine CheckMemory: is the downloaded image whole (digest only, no signature)?"""
        try:
            self._boot.check_integrity(self._boot.target_bank())
        except VerificationFailed as exc:
            self._reject()
            return exc.code
        return CHECK_OK

    def _reject(self) -> None:
        """The downloaded data are bad: forget the journal, so the next attempt downloads anew
        instead of resuming onto them."""
        self._store.record.clear_journal()
        self._store.save()

    def check_programming_dependencies(self) -> int:
        """Verify the whole image (digest, signature, anti-rollback); only then mark it valid."""
        journal = self._store.record.journal
        if self._active is not None or journal.empty or journal.committed != journal.total_length:
            # only a download the journal records as complete (also across a power loss) is
            # checked; a bank that was already judged cannot be re-armed by the routine alone
            raise Nrc(RC.RequestSequenceError, "no complete download to check")
        bank = self._boot.target_bank()
        try:
            header, _app = self._boot.verify(bank)
        except VerificationFailed as exc:
            self._reject()
            return exc.code
        self._accept(bank, header, raise_anti_rollback=self._layout.bank_count == 1)
        return CHECK_OK

    def _accept(self, bank: int, header: ImageHeader, *, raise_anti_rollback: bool) -> None:
        """Mark the bank valid (A/B: pending its trial boot); the download is done with."""
        rec = self._store.record
        rec.banks[bank].valid = True
        rec.banks[bank].version = header.version
        rec.banks[bank].security_version = header.security_version
        rec.clear_journal()
        if self._layout.bank_count == 2:
            rec.pending_bank = bank
        if raise_anti_rollback:
            rec.anti_rollback = max(rec.anti_rollback, header.security_version)
        rec.boot_attempts = 0
        self._store.save()
