"""Motorola S-record (``.s19``, ``.s28``, ``.s37``, ``.srec``, ``.mot``): an optional S0 header,
data records S1/S2/S3 (16, 24, 32-bit addresses), optional record counts S5/S6 and a start
address S7/S8/S9. bincopy decodes each record; this module numbers the lines and checks the
count a file gives against the data records it holds."""

from __future__ import annotations

from pathlib import Path

import bincopy

from bench.errors import ConfigError
from bench.image.software.memory_map import MemoryMap
from bench.image.software.model import SoftwareFile
from bench.image.software.record_file import DataRecord, blocks, text_lines, unpack

FORMAT = "s-record"


def looks_like(raw: bytes) -> bool:
    head = raw.lstrip()[:2]
    return len(head) == 2 and head[:1] == b"S" and head[1:2].isdigit()


def load(path: Path, raw: bytes, memory_map: MemoryMap | None) -> SoftwareFile:
    file = str(path)
    records: list[DataRecord] = []
    header: dict[str, str] = {}
    for line, text in text_lines(path, raw):
        kind, address, _size, data = unpack(path, line, text, bincopy.unpack_srec)
        if kind == "0":
            header["s0_header"] = bytes(data).decode("ascii", errors="replace").rstrip("\0")
        elif kind in "123":
            records.append(DataRecord(line, address, bytes(data)))
        elif kind in "56":
            if address != len(records):
                raise ConfigError(f"the record count says {address} data records, the file has {len(records)} "
                                  "before it (a record is missing or the file was cut)", file=file, line=line)
        else:
            header["start_address"] = f"{address:#010x}"
    return SoftwareFile(path=path, format=FORMAT, blocks=blocks(path, records, memory_map), header=header)
