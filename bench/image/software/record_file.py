"""What Intel HEX and Motorola S-record files share: numbered text records of data at addresses,
turned into logical blocks. Each format's module decodes its records with bincopy; this module
finds overlaps and addresses outside the memory map by line, and joins adjacent records into
logical blocks itself (bincopy's segments would join a record that overlaps the next segment
without a word, and cost a third of the load time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import bincopy

from bench.errors import ConfigError
from bench.image.software.memory_map import MemoryMap
from bench.image.software.model import LogicalBlock


@dataclass(frozen=True)
class DataRecord:
    """One data record: the line it is on (from 1), where its data goes, and the data."""

    line: int
    address: int
    data: bytes

    @property
    def end(self) -> int:
        return self.address + len(self.data)


def text_lines(path: Path, raw: bytes) -> Iterator[tuple[int, str]]:
    """The file's non-blank lines with their numbers, stripped; a byte that is not ASCII is an
    error naming its line (record files are ASCII)."""
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            text = line.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise ConfigError(f"byte {line[exc.start]:#04x} at column {exc.start + 1} is not ASCII text "
                              "(a record file has one ASCII record per line)", file=str(path), line=number) from None
        if text:
            yield number, text


Unpacked = tuple[object, int, int, bytes]
"""bincopy's decoded record: type, address, size, data."""


def unpack(path: Path, line: int, record: str, unpack_record: Callable[[str], Unpacked]) -> Unpacked:
    """Decode one record with bincopy's ``unpack_ihex``/``unpack_srec``; its errors (bad checksum,
    wrong length, not hex) become a ConfigError naming the line."""
    try:
        return unpack_record(record)
    except bincopy.Error as exc:
        raise ConfigError(_bincopy_message(str(exc)), file=str(path), line=line) from None
    except (ValueError, IndexError):
        raise ConfigError(f"record {record!r} is not made of hexadecimal digit pairs",
                          file=str(path), line=line) from None


def _bincopy_message(message: str) -> str:
    """bincopy says ``expected crc 'AB' in record :..., but got 'CD'``; the user reads better
    ``bad record checksum: ...``."""
    if message.startswith("expected crc"):
        return f"bad record checksum: {message}"
    return f"bad record syntax: {message}"


def blocks(path: Path, records: list[DataRecord], memory_map: MemoryMap | None) -> tuple[LogicalBlock, ...]:
    """The contiguous blocks the records make, in address order. Two records that write the same
    address are an error naming both lines; so is a record outside ``memory_map``."""
    file = str(path)
    written = [record for record in records if record.data]
    if not written:
        raise ConfigError("the file holds no data records: there is nothing to flash", file=file)
    ordered = sorted(written, key=lambda record: (record.address, record.line))
    for before, after in zip(ordered, ordered[1:]):
        if after.address < before.end:
            first, second = sorted((before, after), key=lambda record: record.line)
            overlap_end = min(before.end, after.end)
            raise ConfigError(f"overlapping segments: this record writes {after.address:#010x}-{overlap_end - 1:#010x}"
                              f", which the record on line {first.line} already writes",
                              file=file, line=second.line)
    if memory_map is not None:
        for record in written:
            if not memory_map.contains(record.address, record.end):
                raise ConfigError(memory_map.outside_message(record.address, record.end), file=file, line=record.line)
    runs: list[list[DataRecord]] = []  # adjacent records, one run per logical block
    for record in ordered:
        if runs and runs[-1][-1].end == record.address:
            runs[-1].append(record)
        else:
            runs.append([record])
    return tuple(LogicalBlock(address=run[0].address, data=b"".join(record.data for record in run)) for run in runs)
