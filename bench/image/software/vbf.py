"""VBF (Versatile Binary Format, Volvo's and others' software container): the ASCII header
(``bench.image.software.vbf_header``), then data blocks ``address(4) length(4) data crc16(2)``,
big-endian, each checked with CRC-16/CCITT-FALSE; the header's ``file_checksum`` is the CRC-32
(ISO-HDLC, zlib's) of the whole data section. Every error names the byte offset where it is."""

from __future__ import annotations

import binascii
import struct
import zlib
from pathlib import Path

from bench.errors import ConfigError
from bench.image.software.memory_map import MemoryMap
from bench.image.software.model import LogicalBlock, SoftwareFile
from bench.image.software.vbf_header import Value, parse_header

FORMAT = "vbf"
_BLOCK_HEAD = struct.Struct(">II")
_CRC_SIZE = 2


def looks_like(raw: bytes) -> bool:
    return raw.lstrip()[:11] == b"vbf_version"


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): what a VBF block carries."""
    return binascii.crc_hqx(data, 0xFFFF)


def load(path: Path, raw: bytes, memory_map: MemoryMap | None) -> SoftwareFile:
    file = str(path)
    header = parse_header(path, raw)
    fields = header.fields

    def fail(message: str, offset: int) -> ConfigError:
        return ConfigError(f"at byte offset {offset} ({offset:#x}): {message}", file=file)

    data_format = fields.get("data_format_identifier", 0)
    if data_format != 0:
        raise fail(f"data_format_identifier {_text(data_format)}: compressed or encrypted VBF data is not read by "
                   "the bench (only 0x00, plain data)", 0)
    erase = _ranges(path, fields.get("erase", ()))
    blocks: list[tuple[int, LogicalBlock]] = []  # (byte offset of the block, block)
    offset = header.data_offset
    while offset < len(raw):
        index = len(blocks)
        if len(raw) - offset < _BLOCK_HEAD.size:
            raise fail(f"truncated VBF block {index}: {len(raw) - offset} byte(s) left, a block header "
                       f"(address, length) needs {_BLOCK_HEAD.size}", offset)
        address, length = _BLOCK_HEAD.unpack_from(raw, offset)
        data_start = offset + _BLOCK_HEAD.size
        if len(raw) - data_start < length + _CRC_SIZE:
            raise fail(f"truncated VBF block {index} at {address:#010x}: its header says {length} data bytes and a "
                       f"CRC-16, {len(raw) - data_start} byte(s) are left", offset)
        data = raw[data_start:data_start + length]
        carried = int.from_bytes(raw[data_start + length:data_start + length + _CRC_SIZE], "big")
        computed = crc16_ccitt_false(data)
        if carried != computed:
            raise fail(f"VBF block {index} at {address:#010x}: CRC-16 mismatch, the file carries {carried:#06x}, "
                       f"the data has {computed:#06x}", data_start + length)
        if memory_map is not None and not memory_map.contains(address, address + length):
            raise fail(f"VBF block {index}: {memory_map.outside_message(address, address + length)}", offset)
        erased_here = tuple(r for r in erase if r[0] < address + length and address < r[0] + r[1])
        blocks.append((offset, LogicalBlock(address=address, data=data, erase=erased_here, checksum=carried,
                                            name=f"block {index}")))
        offset = data_start + length + _CRC_SIZE
    if not blocks:
        raise fail("the VBF file has no data block", header.data_offset)
    ordered = sorted(blocks, key=lambda item: item[1].address)
    for (_, before), (at, after) in zip(ordered, ordered[1:]):
        if after.address < before.end:
            raise fail(f"overlapping segments: {after.name} at {after.address:#010x} starts inside {before.name} "
                       f"({before.address:#010x}-{before.end - 1:#010x})", at)
    expected = fields.get("file_checksum")
    if expected is not None:
        actual = zlib.crc32(raw[header.data_offset:])
        if actual != expected:
            raise fail(f"file_checksum mismatch: the header says {_text(expected)}, the data section (from here "
                       f"to the end) has CRC-32 {actual:#010x}", header.data_offset)
    text_fields = {"vbf_version": header.version, **{name: _text(value) for name, value in fields.items()}}
    return SoftwareFile(path=path, format=FORMAT, header=text_fields, blocks=tuple(block for _, block in ordered))


def _ranges(path: Path, value: Value) -> tuple[tuple[int, int], ...]:
    """``erase = { { start, length }, ... }`` as (start, length) pairs."""
    pairs: list[tuple[int, int]] = []
    for pair in value if isinstance(value, tuple) else (value,):
        if not (isinstance(pair, tuple) and len(pair) == 2
                and isinstance(pair[0], int) and isinstance(pair[1], int)):
            raise ConfigError(f"VBF header: erase must be {{ {{start, length}}, ... }}, got {_text(value)}",
                              file=str(path), field="erase")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _text(value: Value, *, in_list: bool = False) -> str:
    """A header value as the file writes it: numbers in hex, lists in braces, strings in a list quoted."""
    if isinstance(value, tuple):
        return "{" + ", ".join(_text(item, in_list=True) for item in value) + "}"
    if isinstance(value, int):
        return f"{value:#x}"
    return f'"{value}"' if in_list else value
