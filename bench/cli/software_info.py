"""``ota-bench image info FILE``: what a software file holds, as the bench reads it: its format,
its header, each logical block (address, end, size, the checksum the file carries, and the CRC-32
the bench computes: zlib's, the value an HIS-style check routine 0x0202 is sent), the total."""

from __future__ import annotations

import zlib
from pathlib import Path

from bench.cli.common import EXIT_OK, table
from bench.image.software import SoftwareFile, load_software

CARRIED_CHECKSUM = {"vbf": "CRC-16/CCITT-FALSE"}
"""What the checksum a format carries per block is; formats not listed carry none."""


def show(path: Path, base_address: int | None) -> int:
    print(render(load_software(path, base_address=base_address)))
    return EXIT_OK


def render(software: SoftwareFile) -> str:
    lines = [f"file    {software.path}", f"format  {software.format}"]
    if software.header:
        width = max(len(name) for name in software.header)
        lines.append("header")
        lines += [f"  {name.ljust(width)}  {value}" for name, value in software.header.items()]
    carried = CARRIED_CHECKSUM.get(software.format)
    rows = [[block.name or f"block {index}", f"{block.address:#010x}", f"{block.end:#010x}",
             f"{len(block.data)} ({len(block.data):#x})",
             f"{block.checksum:#06x}" if block.checksum is not None else "-",
             f"{zlib.crc32(block.data):#010x}"]
            for index, block in enumerate(software.blocks)]
    lines.append("")
    lines.append(table(["block", "address", "end", "size", f"file checksum ({carried or 'none'})",
                        "CRC-32 (bench)"], rows))
    lines.append("")
    lines.append(f"total   {len(software.blocks)} block(s), {software.size} bytes ({software.size:#x})")
    return "\n".join(lines)
