"""The reprogramming half of the bootloader: erase, download, transfer, exit, checks.

The download journal is committed to EEPROM at sector granularity: a sector counts as
committed once it is completely programmed. After a power loss a tester resumes with a
RequestDownload at ``region start + committed``; the bootloader re-erases what follows (a torn
page cannot be programmed again without an erase) and the tester re-sends from there — at
most one block when its blocks are a sector long.

An ECU that takes delta packages has a second download area, the staging area
(``profile.delta``): erasing and downloading there never touches a bank. The package's header
is checked as soon as it has arrived, the whole package by the check routines
(``bench.sim.staging``); CheckProgrammingDependencies then arms the delta job, which the
bootloader runs at its next start.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from udsoncan.ResponseCode import ResponseCode as RC

from bench.config.models import EcuProfile
from bench.image import HEADER_SIZE, DeltaHeader, ImageFormatError, ImageHeader
from bench.routine_status import CHECK_OK
from bench.sim.boot import BankLayout, BootManager, VerificationFailed
from bench.sim.nrc import Nrc
from bench.sim.nvm import FlashMemory, FlashProgrammingError
from bench.sim.record import RecordStore
from bench.sim.staging import StagingChecks

BANK, STAGING = "bank", "staging"


@dataclass
class _Download:
    area: str  # BANK or STAGING
    base: int  # flash offset of the area
    offset: int  # next byte to program, relative to the area start
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
        self._staging = StagingChecks(profile, layout, store, boot, flash.sector_size) if profile.delta else None

    @property
    def max_data_per_block(self) -> int:
        return self._profile.max_block_length - 2

    def _region(self, address: int, size: int) -> int:
        """Offset of [address, address+size) inside the download region, or NRC 0x31."""
        start = self._profile.memory.address
        rel = address - start
        if rel < 0 or size <= 0 or rel + size > self._layout.bank_size:
            staging = self._profile.delta
            also = f" and the staging area {staging.address:#x}+{self._layout.staging_size:#x}" if staging else ""
            raise Nrc(RC.RequestOutOfRange, f"{address:#x}+{size:#x} outside {start:#x}+{self._layout.bank_size:#x}"
                                            + also)
        return rel

    def _area(self, address: int, size: int) -> tuple[str, int, int]:
        """(area, its flash offset, offset of ``address`` in it), or NRC 0x31."""
        staging = self._profile.delta
        if staging is not None and size > 0 and 0 <= address - staging.address <= self._layout.staging_size - size:
            return STAGING, self._layout.staging_offset, address - staging.address
        rel = self._region(address, size)
        return BANK, self._layout.offset(self._boot.target_bank()), rel

    def _sector_span(self, rel: int, size: int) -> tuple[int, int]:
        sector = self._flash.sector_size
        first = rel // sector * sector
        end = -(-(rel + size) // sector) * sector  # areas are whole sectors: never past the end
        return first, end - first

    def erase(self, address: int, size: int) -> None:
        """Routine EraseMemory: invalidates the target bank first, so a cut erase never boots.
        Erasing the staging area leaves the banks as they are. Either cancels an armed delta job
        (it has not started: jobs run at the next start)."""
        area, base, rel = self._area(address, size)
        rec = self._store.record
        if area == BANK:
            bank = self._boot.target_bank()
            self._boot.overwriting(bank)
            rec.banks[bank].valid = False
            if rec.pending_bank == bank:
                rec.pending_bank = None
        rec.clear_journal()
        rec.clear_patch()
        self._store.save()
        self._active = None
        first, length = self._sector_span(rel, size)
        self._flash.erase(base + first, length)

    def request_download(self, address: int, size: int) -> None:
        area, base, rel = self._area(address, size)
        rec = self._store.record
        if rel == 0:
            if not self._flash.is_erased(base, size):
                raise Nrc(RC.UploadDownloadNotAccepted, "target memory is not erased")
            rec.journal_digest, rec.journal_total, rec.journal_committed = "", size, 0
            rec.journal_area = area
            self._store.save()
        else:
            journal = rec.journal
            if not self._profile.resume or journal.empty or rec.journal_area != area or journal.committed != rel \
                    or journal.total_length != rel + size:
                raise Nrc(RC.UploadDownloadNotAccepted,
                          f"no download to resume at {rel:#x} of the {area} (journal: {rec.journal_area} "
                          f"{journal.committed:#x}/{journal.total_length:#x})")
            first, length = self._sector_span(rel, size)
            if not self._flash.is_erased(base + first, length):
                self._flash.erase(base + first, length)
        self._active = _Download(area, base, offset=rel, end=rel + size)

    def check_block(self, counter: int, data: bytes) -> bool:
        """The sequence and format checks of TransferData (ISO 14229-1, 14.4): True for the next
        block, False for a repeat of the last accepted one (its response was lost: acknowledge
        it, write nothing), Nrc for anything else."""
        dl = self._active
        if dl is None:
            raise Nrc(RC.RequestSequenceError, "no download in progress")
        if not data:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, "TransferData without data")
        if counter == dl.last_accepted:
            return False
        if dl.offset == dl.end:
            raise Nrc(RC.RequestSequenceError, "every byte of memorySize was already transferred")
        if counter != dl.expected_counter:
            raise Nrc(RC.WrongBlockSequenceCounter, f"expected {dl.expected_counter:#04x}, got {counter:#04x}")
        if len(data) > self.max_data_per_block:
            raise Nrc(RC.RequestOutOfRange, f"{len(data)} data bytes, maxNumberOfBlockLength allows "
                                            f"{self.max_data_per_block}")
        if dl.offset + len(data) > dl.end:
            raise Nrc(RC.TransferDataSuspended, "more data than RequestDownload announced")
        return True

    def transfer_data(self, counter: int, data: bytes) -> None:
        if not self.check_block(counter, data):
            return
        dl = self._active
        assert dl is not None
        start = dl.base + dl.offset
        lead = start % self._flash.page_size  # the previous block ended mid-page: program that page
        try:                                  # again with its first part as it already is
            self._flash.program(start - lead, self._flash.read(start - lead, lead) + data)
        except FlashProgrammingError as exc:
            raise Nrc(RC.GeneralProgrammingFailure, str(exc)) from exc
        dl.offset += len(data)
        dl.last_accepted = counter
        dl.expected_counter = (counter + 1) & 0xFF
        if dl.area == STAGING and dl.offset - len(data) < HEADER_SIZE <= dl.offset:
            self._check_staged_header(dl)
        self._commit(dl)

    def _check_staged_header(self, dl: _Download) -> None:
        """The package header has arrived: refuse a package this ECU cannot use before its patch."""
        assert self._staging is not None
        try:
            self._staging.check_header(DeltaHeader.parse(self._flash.read(dl.base, HEADER_SIZE)), dl.end)
        except (ImageFormatError, VerificationFailed) as exc:
            self._active = None
            self._reject()
            raise Nrc(RC.RequestOutOfRange, f"delta package refused: {exc}") from exc

    def _commit(self, dl: _Download) -> None:
        rec = self._store.record
        committed = dl.end if dl.offset == dl.end else dl.offset // self._flash.sector_size * self._flash.sector_size
        changed = committed != rec.journal_committed
        if not rec.journal_digest and dl.offset >= HEADER_SIZE:
            header = self._flash.read(dl.base, HEADER_SIZE)
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
        """Routine CheckMemory: is the downloaded image (or delta package) whole (digest only, no signature)?"""
        rec = self._store.record
        try:
            if rec.journal_area == STAGING and self._staging is not None:
                self._staging.check_integrity(rec.journal_total)
            else:
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
        if self._store.record.journal_area == STAGING and self._staging is not None:
            return self._arm_delta(journal.total_length)
        bank = self._boot.target_bank()
        try:
            header, _app = self._boot.verify(bank)
        except VerificationFailed as exc:
            self._reject()
            return exc.code
        self._accept(bank, header)
        return CHECK_OK

    def _accept(self, bank: int, header: ImageHeader) -> None:
        """Mark the bank valid (A/B: pending its trial boot); the download is done with."""
        self._store.record.clear_journal()
        self._boot.mark_valid(bank, header)
        self._store.save()

    def _arm_delta(self, length: int) -> int:
        """The staged package checks out: arm the job the bootloader runs at its next start."""
        assert self._staging is not None
        try:
            package = self._staging.check(length)
        except VerificationFailed as exc:
            self._reject()
            return exc.code
        rec = self._store.record
        rec.clear_journal()
        rec.patch_type, rec.patch_bank = package.header.patch_type, self._boot.target_bank()
        rec.patch_package, rec.patch_steps_done = package.header_digest.hex(), 0
        self._store.save()
        return CHECK_OK
