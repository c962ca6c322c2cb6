"""The reprogramming half of a HIS-style bootloader: per logical block, erase, download (plain or
zlib-compressed, and AES-128-CTR-encrypted where the ECU's flash spec says so; decoded here), CRC-32 check; then the check of programming dependencies.

Order, enforced per power-on: a block's RequestDownload needs an erase of that block first (one
download per erase); its CRC check needs that download complete. Erasing a block invalidates it
and the application as a whole before the first sector is touched, so a cut erase never starts.
There is no journal: after a power loss the tester erases the interrupted block again and
downloads it whole; blocks already checked valid stay valid.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import CipherContext
from udsoncan.ResponseCode import ResponseCode as RC

from bench.config.models import EcuProfile
from bench.image.download_cipher import decryptor
from bench.sim.dialects.his.boot import HisBoot
from bench.sim.dialects.his.memory import BlockLayout, BlockRecord, HisStore
from bench.sim.nrc import Nrc
from bench.sim.nvm import FlashMemory, FlashProgrammingError

CRC_CORRECT, CRC_INCORRECT = 0x00, 0x01
"""routineStatusRecord of the CRC check (0x0202)."""
DEPENDENCIES_OK, DEPENDENCIES_FAILED = 0x00, 0x01
"""routineStatusRecord of the check of programming dependencies (0xFF01)."""
PLAIN, ZLIB = 0x00, 0x10
"""dataFormatIdentifier: no compression nor encryption; compression method 1 (zlib stream)."""


@dataclass
class _Download:
    block: int
    start: int  # memoryAddress
    size: int  # memorySize: uncompressed bytes
    written: int = 0
    expected_counter: int = 1
    last_accepted: int | None = None
    decoder: zlib._Decompress | None = field(default=None, repr=False)
    decryptor: CipherContext | None = field(default=None, repr=False)


class HisDownload:
    def __init__(self, profile: EcuProfile, layout: BlockLayout, flash: FlashMemory, store: HisStore,
                 boot: HisBoot) -> None:
        self._profile = profile
        self._layout = layout
        self._flash = flash
        self._store = store
        self._boot = boot
        self._erased: set[int] = set()
        """Blocks erased in this power-on and not downloaded since: the ones RequestDownload takes."""
        self._active: _Download | None = None
        self._to_check: _Download | None = None
        """The last complete download, until its CRC check."""

    @property
    def max_data_per_block(self) -> int:
        return self._profile.max_block_length - 2

    def block_of(self, address: int, size: int) -> int:
        return self._layout.block_of(address, size)

    def erase_block(self, index: int) -> None:
        """Routine EraseMemory of logical block ``index``: block and application invalid, then erased."""
        rec = self._store.record
        rec.blocks[index] = BlockRecord()
        rec.application_valid = False
        self._store.save()
        self._active = self._to_check = None
        self._erased.discard(index)
        block = self._layout.blocks[index]
        self._flash.erase(self._layout.flash_offset(index, block.address), block.size)
        self._erased.add(index)

    def data_formats(self) -> set[int]:
        """The dataFormatIdentifiers RequestDownload takes: plain or zlib, each also encrypted with the
        method of the ECU's flash specification when it has one (the key is the ECU's and the spec's)."""
        formats = {PLAIN, ZLIB}
        download = self._profile.flash_spec.blocks.download
        if download.cipher != "none":
            formats |= {dfi | download.encryption for dfi in formats}
        return formats

    def request_download(self, address: int, size: int, data_format: int) -> None:
        index = self.block_of(address, size)
        self._require_erased(index)
        self._erased.discard(index)
        download = self._profile.flash_spec.blocks.download
        cipher = None
        if data_format & 0x0F:
            assert download.key is not None  # data_formats() allowed it
            cipher = decryptor(download.key.value, download.nonce.value)
        self._active = _Download(index, address, size, decoder=zlib.decompressobj() if data_format & 0xF0 else None,
                                 decryptor=cipher)
        self._to_check = None

    def _require_erased(self, index: int) -> None:
        """A block is downloaded into once per erase of it, in this power-on."""
        if index not in self._erased:
            raise Nrc(RC.UploadDownloadNotAccepted,
                      f"logical block {self._layout.blocks[index].name!r} was not erased before this download")

    def check_block(self, counter: int, data: bytes) -> bool:
        """Sequence and format checks of TransferData: True for the next block, False for a repeat
        of the last accepted one (its response was lost: acknowledge it, write nothing), else Nrc."""
        dl = self._active
        if dl is None:
            raise Nrc(RC.RequestSequenceError, "no download in progress")
        if not data:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, "TransferData without data")
        if counter == dl.last_accepted:
            return False
        if dl.written == dl.size and (dl.decoder is None or dl.decoder.eof):
            raise Nrc(RC.RequestSequenceError, "every byte of memorySize was already transferred")
        if counter != dl.expected_counter:
            raise Nrc(RC.WrongBlockSequenceCounter, f"expected {dl.expected_counter:#04x}, got {counter:#04x}")
        if len(data) > self.max_data_per_block:
            raise Nrc(RC.RequestOutOfRange, f"{len(data)} data bytes, maxNumberOfBlockLength allows "
                                            f"{self.max_data_per_block}")
        if dl.decoder is None and dl.written + len(data) > dl.size:
            raise Nrc(RC.TransferDataSuspended, "more data than RequestDownload announced")
        return True

    def transfer_data(self, counter: int, data: bytes) -> None:
        if not self.check_block(counter, data):
            return
        dl = self._active
        assert dl is not None
        if dl.decryptor is not None:
            data = dl.decryptor.update(data)
        plain = data if dl.decoder is None else self._decode(dl, data)
        self._program(dl, plain)
        dl.last_accepted = counter
        dl.expected_counter = (counter + 1) & 0xFF

    def _decode(self, dl: _Download, data: bytes) -> bytes:
        assert dl.decoder is not None
        try:
            plain = dl.decoder.decompress(data, dl.size - dl.written + 1)
        except zlib.error as exc:
            self._active = None
            raise Nrc(RC.RequestOutOfRange, f"compressed data cannot be decoded: {exc}") from exc
        if dl.written + len(plain) > dl.size or dl.decoder.unconsumed_tail:
            self._active = None
            raise Nrc(RC.TransferDataSuspended, "the compressed data decode to more than memorySize")
        return plain

    def _program(self, dl: _Download, data: bytes) -> None:
        if not data:
            return
        start = self._layout.flash_offset(dl.block, dl.start) + dl.written
        lead = start % self._flash.page_size  # the previous block ended mid-page: program that page
        try:                                  # again with its first part as it already is
            self._flash.program(start - lead, self._flash.read(start - lead, lead) + data)
        except FlashProgrammingError as exc:
            raise Nrc(RC.GeneralProgrammingFailure, str(exc)) from exc
        dl.written += len(data)

    def abort_transfer(self) -> None:
        """A session (re)start ends any transfer in progress."""
        self._active = None

    def request_transfer_exit(self) -> None:
        dl = self._active
        complete = dl is not None and dl.written == dl.size and (dl.decoder is None or dl.decoder.eof)
        if not complete:
            have = "no download" if dl is None else f"{dl.written:#x} of {dl.size:#x} bytes"
            raise Nrc(RC.RequestSequenceError, f"transfer not complete ({have})")
        self._active, self._to_check = None, dl

    def crc_of(self, index: int, start: int, length: int) -> int:
        """CRC-32 (ISO-HDLC, zlib's) of ``length`` bytes of block ``index`` from address ``start``."""
        return zlib.crc32(self._flash.read(self._layout.flash_offset(index, start), length))

    def check_crc(self, expected: int) -> int:
        """Routine 0x0202: the last downloaded block against the tester's CRC-32; valid only when equal."""
        dl = self._to_check
        if dl is None:
            raise Nrc(RC.RequestSequenceError, "no complete download to check since the last erase")
        self._to_check = None
        if not self._crc_matches(dl, expected):
            return CRC_INCORRECT
        self._store.record.blocks[dl.block] = BlockRecord(True, dl.start, dl.size, expected)
        self._store.save()
        return CRC_CORRECT

    def _crc_matches(self, dl: _Download, expected: int) -> bool:
        return self.crc_of(dl.block, dl.start, dl.size) == expected

    def check_programming_dependencies(self) -> int:
        """Routine 0xFF01: every block valid, and every other block made for the application's version."""
        rec = self._store.record
        ok = self._dependencies_met()
        if ok != rec.application_valid:
            rec.application_valid = ok
            self._store.save()
        return DEPENDENCIES_OK if ok else DEPENDENCIES_FAILED

    def _dependencies_met(self) -> bool:
        if not all(block.valid for block in self._store.record.blocks):
            return False
        version = self._boot.block_identification(0)
        return version is not None and all(self._boot.block_identification(index) == version
                                           for index in range(1, len(self._layout.blocks)))
