"""A raw binary (``.bin``): the file's bytes, one block, at the base address the user gives."""

from __future__ import annotations

from pathlib import Path

from bench.errors import ConfigError
from bench.image.software.memory_map import MemoryMap
from bench.image.software.model import LogicalBlock, SoftwareFile

FORMAT = "binary"


def load(path: Path, raw: bytes, base_address: int | None, memory_map: MemoryMap | None) -> SoftwareFile:
    file = str(path)
    if base_address is None:
        raise ConfigError("a raw binary has no addresses: give its base address (base_address=..., "
                          "or --base-address on the command line)", file=file)
    if base_address < 0:
        raise ConfigError(f"base address {base_address:#x} is negative", file=file, field="base_address")
    if not raw:
        raise ConfigError("the binary is empty: there is nothing to flash", file=file)
    check_inside(path, base_address, len(raw), memory_map)
    return SoftwareFile(path=path, format=FORMAT, blocks=(LogicalBlock(address=base_address, data=raw),))


def check_inside(path: Path, base_address: int, size: int, memory_map: MemoryMap | None) -> None:
    """A file loaded whole at ``base_address`` must fit the memory map; the error names the
    file's first byte that falls outside it."""
    if memory_map is None:
        return
    end = base_address + size
    outside = memory_map.first_outside(base_address, end)
    if outside is not None:
        offset = outside - base_address
        raise ConfigError(f"at byte offset {offset} ({offset:#x}): {memory_map.outside_message(outside, end)}",
                          file=str(path))
