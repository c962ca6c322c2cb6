"""Software files cut into the logical blocks a flash specification programs, one after another.

Without a memory map every block of the files is a logical block. With one, each block of the
files must lie inside a region of the map; the blocks of one region become that region's
logical block (gaps between them filled with 0xFF, erased flash), numbered by the region's
index. Mistakes (a block outside the map, two files writing the same bytes) are found here,
before anything is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.config.flash_spec import MemoryRegion
from bench.config.models import EcuProfile
from bench.errors import ConfigError
from bench.image.software import LogicalBlock, SoftwareFile

ERASED = 0xFF


@dataclass(frozen=True)
class PlannedBlock:
    index: int
    """Index of the block's region in the memory map (its position among the blocks without one)."""
    address: int
    data: bytes
    region: MemoryRegion | None = None
    file_checksum: int | None = None
    """The checksum the software file gives the block (VBF), when it is one block of the file."""
    erase: tuple[tuple[int, int], ...] = ()
    """The (start, length) ranges the software file says to erase for the block (VBF), if any."""
    header: Mapping[str, str] = field(default_factory=dict)
    """The header of the software file the block comes from (VBF's fields)."""

    @property
    def end(self) -> int:
        return self.address + len(self.data)


def memory_map(profile: EcuProfile) -> list[MemoryRegion]:
    """The ECU's logical blocks: its flash spec's ``memory_map``, else its profile's ``memory.blocks``,
    else its one application region (``memory.address``, ``memory.size``): software outside the
    ECU's memory is a mistake found before anything is sent, never an ECU's refusal."""
    memory = profile.memory
    return (profile.flash_spec.memory_map
            or [MemoryRegion(name=block.name, address=block.address, size=block.size) for block in memory.blocks]
            or [MemoryRegion(name="application", address=memory.address, size=memory.size)])


def plan_blocks(files: Sequence[SoftwareFile], regions: Sequence[MemoryRegion], spec: str) -> list[PlannedBlock]:
    """The logical blocks of ``files`` in ``regions`` (none: every block of the files is one);
    ``spec`` names the flash specification in messages."""
    placed = sorted(((block, software) for software in files for block in software.blocks),
                    key=lambda pair: pair[0].address)
    if not placed:
        raise ConfigError("no data to flash: the software files hold no blocks",
                          file=", ".join(str(software.path) for software in files) or None)
    for (low, low_file), (high, high_file) in zip(placed, placed[1:]):
        if high.address < low.end:
            raise ConfigError(f"{high_file.path} writes {high.address:#010x}-{high.end - 1:#010x}, which "
                              f"{low_file.path} also writes ({low.address:#010x}-{low.end - 1:#010x})",
                              file=str(high_file.path))
    if not regions:
        return [PlannedBlock(index, block.address, block.data, file_checksum=block.checksum, erase=block.erase,
                             header=software.header) for index, (block, software) in enumerate(placed)]
    grouped: dict[int, list[LogicalBlock]] = {}
    headers: dict[int, Mapping[str, str]] = {}
    for block, software in placed:
        index = next((index for index, region in enumerate(regions)
                      if region.address <= block.address and block.end <= region.end), None)
        if index is None:
            allowed = ", ".join(f"{r.name} {r.address:#010x}-{r.end - 1:#010x}" for r in regions)
            raise ConfigError(f"block at {block.address:#010x}-{block.end - 1:#010x} lies outside every logical "
                              f"block of the ECU flashed by {spec!r} ({allowed})", file=str(software.path))
        grouped.setdefault(index, []).append(block)
        headers.setdefault(index, software.header)
    return [_joined(index, regions[index], blocks, headers[index]) for index, blocks in sorted(grouped.items())]


def plan_digest(blocks: Sequence[PlannedBlock]) -> str:
    """What identifies the software being flashed (a resumed flash must be of the same)."""
    digest = hashlib.sha256()
    for block in blocks:
        digest.update(block.address.to_bytes(8, "big") + len(block.data).to_bytes(8, "big") + block.data)
    return digest.hexdigest()


def _joined(index: int, region: MemoryRegion, blocks: list[LogicalBlock], header: Mapping[str, str]) -> PlannedBlock:
    start = blocks[0].address
    data = bytearray()
    for block in blocks:
        data += bytes([ERASED]) * (block.address - start - len(data)) + block.data
    checksum = blocks[0].checksum if len(blocks) == 1 else None
    erase = tuple(dict.fromkeys(span for block in blocks for span in block.erase))
    return PlannedBlock(index, start, bytes(data), region, checksum, erase, header)
