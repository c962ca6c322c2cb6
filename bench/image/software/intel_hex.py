"""Intel HEX (``.hex``, ``.ihex``): data records at 16-bit offsets from an extended segment
(type 02) or extended linear (type 04) address, ended by an end-of-file record (type 01).
bincopy decodes each record; this module follows the address records line by line so every
error names its line."""

from __future__ import annotations

from pathlib import Path

import bincopy

from bench.errors import ConfigError
from bench.image.software.memory_map import MemoryMap
from bench.image.software.model import SoftwareFile
from bench.image.software.record_file import DataRecord, blocks, text_lines, unpack

FORMAT = "intel-hex"
_DATA, _END_OF_FILE, _SEGMENT_BASE, _START_SEGMENT, _LINEAR_BASE, _START_LINEAR = range(6)


def looks_like(raw: bytes) -> bool:
    return raw.lstrip()[:1] == b":"


def load(path: Path, raw: bytes, memory_map: MemoryMap | None) -> SoftwareFile:
    file = str(path)
    records: list[DataRecord] = []
    header: dict[str, str] = {}
    base = 0
    end_line = None
    last_line = 0
    for line, text in text_lines(path, raw):
        last_line = line
        if end_line is not None:
            raise ConfigError(f"record after the end-of-file record on line {end_line}", file=file, line=line)
        kind, offset, size, data = unpack(path, line, text, bincopy.unpack_ihex)
        if kind == _DATA:
            records.append(DataRecord(line, base + offset, bytes(data)))
        elif kind == _END_OF_FILE:
            end_line = line
        elif kind in (_SEGMENT_BASE, _LINEAR_BASE):
            if size != 2:
                raise ConfigError(f"bad record syntax: an extended address record (type {kind:02X}) carries "
                                  f"2 data bytes, this one {size}", file=file, line=line)
            shift = 4 if kind == _SEGMENT_BASE else 16
            base = int.from_bytes(data, "big") << shift
        elif kind in (_START_SEGMENT, _START_LINEAR):
            header["start_address"] = f"{int.from_bytes(data, 'big'):#010x}"
        else:
            raise ConfigError(f"bad record syntax: unknown record type {kind:02X} (Intel HEX has 00 to 05)",
                              file=file, line=line)
    if end_line is None:
        raise ConfigError("no end-of-file record (:00000001FF): the file is truncated", file=file,
                          line=last_line or None)
    return SoftwareFile(path=path, format=FORMAT, blocks=blocks(path, records, memory_map), header=header)
