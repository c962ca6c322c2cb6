"""The virtual ECU's non-volatile memory: NOR flash for images, an EEPROM for bootloader metadata.

Both live in files, so what the ECU wrote survives a simulated power cut and a process restart
(the flash through a shared memory map). Neither is ever fsync'ed: a simulated power cut, or a
killed simulator process, stops the virtual ECU, not the host, so the OS page cache still holds
every byte written and the next instance reads it back.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

Probe = Callable[[str, int], None]
"""Deterministic fault-injection point: called with the point's name and a page/sector index."""


class PowerLost(Exception):
    """The simulated supply dropped while the ECU was doing this; its RAM state is gone."""


class FlashProgrammingError(Exception):
    """A program operation needed a 0->1 bit change (page not erased) or an unaligned/out-of-range access."""


def _no_probe(point: str, index: int) -> None:
    return None


WRITE_PIECE = 256 * 1024
"""Bytes a new flash file is written with per call: one write of a multi-megabyte buffer costs
the host about ten times the CPU of the same bytes in pieces of this size."""


def _write_erased(fd: int, size: int) -> None:
    """Fill a new flash file with ``size`` bytes of 0xFF (a factory-fresh part is fully erased)."""
    blank = b"\xff" * min(size, WRITE_PIECE)
    for offset in range(0, size, len(blank)):
        os.pwrite(fd, blank[:size - offset], offset)


def write_whole(path: Path, data: bytes) -> None:
    """Make ``data`` the whole content of the file at ``path``, written in pieces."""
    view = memoryview(data)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for offset in range(0, len(view), WRITE_PIECE):
            os.pwrite(fd, view[offset:offset + WRITE_PIECE], offset)
    finally:
        os.close(fd)


class FlashMemory:
    """NOR flash: erase sets whole sectors to 0xFF, program can only clear bits (new = old AND data).

    Power is checked before every sector erase and page program, and once more halfway through
    each: a cut there leaves the sector or page torn (first half done, second half as it was),
    which is what a real cut during a long erase or program leaves behind. Nothing after the
    tear point is touched. Probes named ``erase_sector``, ``erase_sector_half``, ``program_page``
    and ``program_page_half`` run right before each of those checks, so a probe that sets
    ``power_lost`` cuts power at that exact point.
    """

    def __init__(self, path: Path, size: int, sector_size: int, page_size: int, *,
                 power_lost: threading.Event, probe: Probe | None = None,
                 erase_time_per_sector: float = 0.0, program_time_per_page: float = 0.0) -> None:
        if page_size <= 0 or sector_size <= 0 or size <= 0:
            raise ValueError(f"flash geometry must be positive: size={size}, sector={sector_size}, page={page_size}")
        if size % sector_size or sector_size % page_size:
            raise ValueError(f"flash size {size} must be a multiple of sector size {sector_size}, "
                             f"itself a multiple of page size {page_size}")
        self.size, self.sector_size, self.page_size = size, sector_size, page_size
        self._power_lost = power_lost
        self._probe = probe or _no_probe
        self._erase_time = erase_time_per_sector
        self._program_time = program_time_per_page
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        existing = os.fstat(self._fd).st_size
        if existing == 0:
            _write_erased(self._fd, size)
        elif existing != size:
            os.close(self._fd)
            raise ValueError(f"{path} holds {existing} bytes, not the {size} of this flash")
        self._map = mmap.mmap(self._fd, size)  # shared mapping: writes land in the page cache

    def read(self, offset: int, length: int) -> bytes:
        self._check_range("read", offset, length)
        return self._map[offset:offset + length]

    def is_erased(self, offset: int, length: int) -> bool:
        return self.read(offset, length).count(0xFF) == length

    def erase(self, offset: int, length: int) -> None:
        """Erase whole sectors; each is erased in two halves, its erase time spent between them."""
        self._check_range("erase", offset, length)
        if offset % self.sector_size or length % self.sector_size:
            raise FlashProgrammingError(f"erase at {offset:#x}, length {length:#x}: "
                                        f"not aligned to the {self.sector_size:#x}-byte sector")
        half = self.sector_size // 2
        blank = b"\xff" * half
        for start in range(offset, offset + length, self.sector_size):
            sector = start // self.sector_size
            self._checkpoint("erase_sector", sector)
            self._map[start:start + half] = blank
            self._checkpoint("erase_sector_half", sector)
            self._spend(self._erase_time, f"erasing sector {sector}")
            self._map[start + half:start + self.sector_size] = b"\xff" * (self.sector_size - half)

    def program(self, offset: int, data: bytes) -> None:
        """Program page by page from a page-aligned offset; the last page may be partial.

        A page whose data would need a 0->1 change is not written at all; pages before it stay
        programmed, as on a real part. Program time is waited once per sector's worth of pages.
        """
        self._check_range("program", offset, len(data))
        if offset % self.page_size:
            raise FlashProgrammingError(f"program at {offset:#x}, length {len(data):#x}: "
                                        f"not aligned to the {self.page_size:#x}-byte page")
        view = memoryview(data)
        half = self.page_size // 2
        pages_per_sector = self.sector_size // self.page_size
        refused = self._first_unerased_page(offset, data)
        pending = 0
        for start in range(0, len(view), self.page_size):
            chunk = view[start:start + self.page_size]
            address = offset + start
            page = address // self.page_size
            self._checkpoint("program_page", page)
            if page == refused:
                raise FlashProgrammingError(f"program at {address:#x}, length {len(chunk):#x}: page {page} "
                                            "is not erased (a bit would have to go from 0 to 1)")
            # old AND data == data once no bit goes 0->1, so the data itself is what lands in flash.
            self._map[address:address + min(half, len(chunk))] = chunk[:half]
            self._checkpoint("program_page_half", page)
            if len(chunk) > half:
                self._map[address + half:address + len(chunk)] = chunk[half:]
            pending += 1
            if pending == pages_per_sector:
                self._spend(self._program_time * pending, f"programming up to page {page}")
                pending = 0
        if pending:
            self._spend(self._program_time * pending, "programming")

    def _first_unerased_page(self, offset: int, data: bytes) -> int | None:
        """The first page ``data`` cannot be programmed into (a 0->1 bit), checked in one pass."""
        old = self._map[offset:offset + len(data)]
        wanted = int.from_bytes(data)
        if int.from_bytes(old) & wanted == wanted:
            return None
        for start in range(0, len(data), self.page_size):
            chunk = int.from_bytes(data[start:start + self.page_size])
            if int.from_bytes(old[start:start + self.page_size]) & chunk != chunk:
                return (offset + start) // self.page_size
        raise AssertionError("unreachable: the whole range failed but no page did")

    def close(self) -> None:
        if self._fd >= 0:
            self._map.close()
            os.close(self._fd)
            self._fd = -1

    def _check_range(self, operation: str, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise FlashProgrammingError(f"{operation} at {offset:#x}, length {length:#x}: "
                                        f"outside the {self.size:#x}-byte flash")

    def _checkpoint(self, point: str, index: int) -> None:
        self._probe(point, index)
        if self._power_lost.is_set():
            raise PowerLost(f"power lost at {point} {index}")

    def _spend(self, seconds: float, doing: str) -> None:
        """Let the operation take its time; a power cut ends the wait at once."""
        if seconds > 0 and self._power_lost.wait(seconds):
            raise PowerLost(f"power lost while {doing}")


class Eeprom:
    """Small persistent record (bootloader metadata: journal, valid flags, counters).

    Modelled as EEPROM emulation does it on real ECUs: two slots, each record written to the
    slot not holding the newest one, with a sequence number and a CRC. A write cut short (even
    a killed process) leaves a slot whose CRC fails; reading takes the newest valid slot, so
    the record read back is either the old one or the new one, never a torn mix.
    """

    SLOT_SIZE = 4096
    _HEADER = struct.Struct(">4sIII")  # magic, sequence, length, crc32
    _MAGIC = b"EEP1"

    def __init__(self, path: Path, *, power_lost: threading.Event) -> None:
        self._path = Path(path)
        self._power_lost = power_lost
        self._sequence, record = self._newest()
        self._cached = record

    def _newest(self) -> tuple[int, dict]:
        if not self._path.exists():
            return 0, {}
        raw = self._path.read_bytes()
        best: tuple[int, dict] = (0, {})
        for slot in range(2):
            chunk = raw[slot * self.SLOT_SIZE:(slot + 1) * self.SLOT_SIZE]
            if len(chunk) < self._HEADER.size:
                continue
            magic, sequence, length, crc = self._HEADER.unpack_from(chunk)
            body = chunk[self._HEADER.size:self._HEADER.size + length]
            if magic == self._MAGIC and len(body) == length and zlib.crc32(body) == crc and sequence > best[0]:
                best = (sequence, json.loads(body))
        return best

    def load(self) -> dict:
        """The last record stored, or {} when none ever was."""
        return dict(self._cached)

    def store(self, record: dict) -> None:
        """Write the record to the older slot; refused without writing once power is lost."""
        body = json.dumps(record, sort_keys=True).encode("utf-8")
        if self._HEADER.size + len(body) > self.SLOT_SIZE:
            raise ValueError(f"EEPROM record of {len(body)} bytes does not fit a {self.SLOT_SIZE}-byte slot")
        if self._power_lost.is_set():
            raise PowerLost(f"power lost before storing {self._path.name}")
        sequence = self._sequence + 1
        slot = self._HEADER.pack(self._MAGIC, sequence, len(body), zlib.crc32(body)) + body
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, slot, (sequence % 2) * self.SLOT_SIZE)
        finally:
            os.close(fd)
        self._sequence = sequence
        self._cached = dict(record)
