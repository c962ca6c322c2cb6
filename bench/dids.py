"""The bench's own data identifiers, encoded the same way by the virtual ECU and the tester.

* download journal (profile ``dids.journal``, 0xFD01 by default) — what a resuming tester needs:
  which image is partly in flash (SHA-256 of its header) and how many bytes of it are
  programmed and verified, counted from the start of the download region.
* boot state (``dids.boot_state``, 0xFD02) — which software runs and from which bank.
* programming fingerprint (``dids.fingerprint``, 0xF15A) — who last programmed the ECU: a
  record of ``FINGERPRINT_LENGTH`` bytes, the length of the fingerprint the bench's flasher
  writes; a write of another length is refused (0x13), a never-written one reads as zeros.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

FINGERPRINT_LENGTH = 13


class BootMode(enum.IntEnum):
    APPLICATION = 0
    BOOTLOADER = 1


class BootState(enum.IntEnum):
    """As in the DBC's ``BootState`` signal."""

    APPLICATION = 0  # single-bank application running
    BOOTLOADER = 1   # no valid application, or reprogramming
    TRIAL_BOOT = 2   # A/B: new bank running, not yet confirmed
    CONFIRMED = 3    # A/B: running bank confirmed by the application


@dataclass(frozen=True)
class DownloadJournal:
    header_digest: bytes = bytes(32)
    total_length: int = 0
    committed: int = 0

    _FORMAT = ">32sII"
    SIZE = struct.calcsize(_FORMAT)

    @property
    def empty(self) -> bool:
        return self.total_length == 0

    def pack(self) -> bytes:
        return struct.pack(self._FORMAT, self.header_digest, self.total_length, self.committed)

    @classmethod
    def parse(cls, raw: bytes) -> DownloadJournal:
        if len(raw) != cls.SIZE:
            raise ValueError(f"download journal record is {len(raw)} bytes, expected {cls.SIZE}")
        digest, total, committed = struct.unpack(cls._FORMAT, raw)
        return cls(digest, total, committed)


@dataclass(frozen=True)
class BootStatus:
    mode: BootMode
    active_bank: int  # 0 = A, 1 = B (always 0 on single-bank ECUs)
    state: BootState
    boot_attempts: int  # failed or unconfirmed starts of the current image

    _FORMAT = ">BBBB"
    SIZE = struct.calcsize(_FORMAT)

    @property
    def bank_name(self) -> str:
        return "AB"[self.active_bank]

    def pack(self) -> bytes:
        return struct.pack(self._FORMAT, self.mode, self.active_bank, self.state, self.boot_attempts)

    @classmethod
    def parse(cls, raw: bytes) -> BootStatus:
        if len(raw) != cls.SIZE:
            raise ValueError(f"boot state record is {len(raw)} bytes, expected {cls.SIZE}")
        mode, bank, state, attempts = struct.unpack(cls._FORMAT, raw)
        return cls(BootMode(mode), bank, BootState(state), attempts)
