"""Where a HIS-style bootloader keeps things: its logical blocks in the flash, and its EEPROM record.

The logical blocks of the profile (``memory.blocks``) lie in the flash one after the other, each
starting on a sector; an address of the memory map becomes a flash offset through its block. The
EEPROM record holds, per block, whether its last download passed the CRC check (0x0202) and over
which bytes, whether the programming dependencies passed (0xFF01) since the last erase, the
SecurityAccess false-attempt counter and the last fingerprint. There is no download journal.
"""

from __future__ import annotations

from dataclasses import dataclass

from udsoncan.ResponseCode import ResponseCode as RC

from bench.config.models import EcuProfile, LogicalBlock
from bench.errors import ConfigError
from bench.sim.nrc import Nrc
from bench.sim.nvm import Eeprom
from bench.sim.record import plain_record


class BlockLayout:
    """The profile's logical blocks mapped onto the flash, each at a sector boundary."""

    bank_count = 1

    def __init__(self, profile: EcuProfile, sector_size: int) -> None:
        self.blocks: list[LogicalBlock] = list(profile.memory.blocks)
        self.offsets: list[int] = []
        offset = 0
        for index, block in enumerate(self.blocks):
            if block.address % sector_size or block.size % sector_size:
                raise ConfigError(f"logical block {block.name!r} ({block.address:#x}+{block.size:#x}) is not made of "
                                  f"whole {sector_size:#x}-byte sectors", field=f"memory.blocks.{index}")
            self.offsets.append(offset)
            offset += block.size
        self.flash_size = offset

    def offset(self, bank: int) -> int:
        """Flash offset of the download area (one area: 0), as ``BankLayout.offset`` says it."""
        return 0

    def block_of(self, address: int, size: int) -> int:
        """The index of the logical block [address, address+size) lies in; NRC 0x31 when none holds it."""
        for index, block in enumerate(self.blocks):
            if size > 0 and block.address <= address and address + size <= block.address + block.size:
                return index
        raise Nrc(RC.RequestOutOfRange, f"{address:#x}+{size:#x} is not inside one logical block ("
                  + ", ".join(f"{b.name} {b.address:#x}+{b.size:#x}" for b in self.blocks) + ")")

    def flash_offset(self, index: int, address: int) -> int:
        """Where ``address`` of block ``index`` is in the flash."""
        return self.offsets[index] + address - self.blocks[index].address


@dataclass
class BlockRecord:
    valid: bool = False
    """The block's last download passed the CRC check and the block was not erased since."""
    start: int = 0
    """Address of the checked data (the RequestDownload's memoryAddress)."""
    length: int = 0
    crc: int = 0
    """CRC-32 of the checked data, as the tester sent it and the ECU found it."""


@dataclass
class HisRecord:
    blocks: list[BlockRecord]
    application_valid: bool = False
    """Every block valid and the programming dependencies passed since the last erase."""
    security_failures: int = 0
    fingerprint: str = ""
    """The last fingerprint written (hex), ``FINGERPRINT_LENGTH`` bytes."""


class HisStore:
    """Load once per power-on, save after every change (each save one atomic EEPROM write)."""

    def __init__(self, eeprom: Eeprom, block_count: int) -> None:
        self._eeprom = eeprom
        raw = eeprom.load()
        if raw:
            blocks = [BlockRecord(**b) for b in raw.pop("blocks")]
            self.record = HisRecord(blocks=blocks, **raw)
        else:
            self.record = HisRecord(blocks=[BlockRecord() for _ in range(block_count)])

    def save(self) -> None:
        self._eeprom.store(plain_record(self.record))


def open_store(eeprom: Eeprom, layout: BlockLayout) -> HisStore:
    return HisStore(eeprom, len(layout.blocks))
