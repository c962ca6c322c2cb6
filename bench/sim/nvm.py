"""The virtual ECU's non-volatile memory: NOR flash for images, an EEPROM for bootloader metadata.

Both live in files, so what the ECU wrote survives a simulated power cut and a process restart.
Neither is ever fsync'ed: a simulated power cut stops the virtual ECU, not the host, so the OS
page cache still holds every byte written and the next instance reads it back.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
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
            os.pwrite(self._fd, b"\xff" * size, 0)  # a factory-fresh part is fully erased
        elif existing != size:
            os.close(self._fd)
            raise ValueError(f"{path} holds {existing} bytes, not the {size} of this flash")

    def read(self, offset: int, length: int) -> bytes:
        self._check_range("read", offset, length)
        return os.pread(self._fd, length, offset)

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
            os.pwrite(self._fd, blank, start)
            self._checkpoint("erase_sector_half", sector)
            self._spend(self._erase_time, f"erasing sector {sector}")
            os.pwrite(self._fd, b"\xff" * (self.sector_size - half), start + half)

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
        pending = 0
        for start in range(0, len(view), self.page_size):
            chunk = view[start:start + self.page_size]
            address = offset + start
            page = address // self.page_size
            self._checkpoint("program_page", page)
            wanted = int.from_bytes(chunk)
            if int.from_bytes(os.pread(self._fd, len(chunk), address)) & wanted != wanted:
                raise FlashProgrammingError(f"program at {address:#x}, length {len(chunk):#x}: page {page} "
                                            "is not erased (a bit would have to go from 0 to 1)")
            # old AND data == data once no bit goes 0->1, so the data itself is what lands in flash.
            os.pwrite(self._fd, chunk[:half], address)
            self._checkpoint("program_page_half", page)
            if len(chunk) > half:
                os.pwrite(self._fd, chunk[half:], address + half)
            pending += 1
            if pending == pages_per_sector:
                self._spend(self._program_time * pending, f"programming up to page {page}")
                pending = 0
        if pending:
            self._spend(self._program_time * pending, "programming")

    def close(self) -> None:
        if self._fd >= 0:
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
    """Small persistent key/value record (bootloader metadata: journal, valid flags, counters).

    Models EEPROM emulation with redundant copies (two flash slots plus a sequence number): after
    a power cut the record read back is either the old one or the new one, never a torn mix. The
    file version gets the same guarantee from writing a temporary file and renaming it over.
    """

    def __init__(self, path: Path, *, power_lost: threading.Event) -> None:
        self._path = Path(path)
        self._power_lost = power_lost

    def load(self) -> dict:
        """The last record stored, or {} when none ever was."""
        if not self._path.exists():
            return {}
        return json.loads(self._path.read_text(encoding="utf-8"))

    def store(self, record: dict) -> None:
        """Replace the record atomically; refused without writing anything once power is lost."""
        text = json.dumps(record, sort_keys=True)
        if self._power_lost.is_set():
            raise PowerLost(f"power lost before storing {self._path.name}")
        fd, temp = tempfile.mkstemp(dir=self._path.parent, prefix=self._path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temp, self._path)
        except BaseException:
            os.unlink(temp)
            raise
