"""The one in-memory model every software file format loads into: a list of logical blocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LogicalBlock:
    """One contiguous piece of software at its address, as the file gives it.

    ``erase`` holds the (start, length) ranges the file says to erase before this block is
    written (VBF's ``erase`` field); empty when the file says nothing, and the block's own range
    is then what an OEM's sequence erases. ``checksum`` is the value the file carries for the
    block (VBF: CRC16-CCITT of the data), ``None`` when the format has none.
    """

    address: int
    data: bytes
    erase: tuple[tuple[int, int], ...] = ()
    checksum: int | None = None
    name: str = ""

    @property
    def end(self) -> int:
        """The first address after the block."""
        return self.address + len(self.data)


@dataclass(frozen=True)
class SoftwareFile:
    """A software file: where it came from, its format, its blocks in address order, and what its
    header says (VBF: sw_part_number, sw_version, ...; empty for formats without a header)."""

    path: Path
    format: str
    blocks: tuple[LogicalBlock, ...]
    header: Mapping[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(block.data) for block in self.blocks)
