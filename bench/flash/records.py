"""The bytes a flash specification's records stand for: option records of routines and of
RequestTransferExit, and the records a tester writes to DIDs (fingerprints).

Numbers are big-endian, as ISO 14229-1 sends them. ``alfid`` is the addressAndLengthFormatIdentifier
(ISO 14229-1 §14.2: the memorySize's byte count in bits 7-4, the memoryAddress's in bits 3-0).
"""

from __future__ import annotations

import binascii
import datetime
import zlib
import dataclasses

from collections.abc import Mapping

from bench.config.flash_spec import FileHeaderField, Fingerprint, HexBytes, OptionRecord, TesterSerial, WriteField
from bench.errors import UsageError


@dataclasses.dataclass(frozen=True)
class BlockRecordValues:
    """What a logical block's record fields are: its index in the ECU's memory map, the range a
    record names (the block's, or its whole region's for an erase of the region), its data as
    written to flash, and the checksum its file gives."""

    index: int
    address: int
    size: int
    data: bytes
    file_checksum: int | None = None
    header: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """What the software file's header says (VBF's fields), as text."""


def alfid(address_bytes: int, length_bytes: int) -> int:
    return (length_bytes << 4) | address_bytes


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection): VBF's and many OEMs'."""
    return binascii.crc_hqx(data, 0xFFFF)


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC (zlib's)."""
    return zlib.crc32(data)


def _number(value: int, size: int, what: str) -> bytes:
    if value >= 1 << (8 * size):
        raise UsageError(f"{what} {value:#x} does not fit the specification's {size} byte(s)")
    return value.to_bytes(size, "big")


def option_record(layout: OptionRecord, block: BlockRecordValues | None) -> bytes:
    """``layout.option_record`` filled in for ``block`` (None: a routine outside the logical blocks,
    whose record holds constants only; the spec model makes sure of that)."""
    record = b""
    for field in layout.option_record:
        if isinstance(field, HexBytes):
            record += field.value
            continue
        assert block is not None, "block fields outside logical_blocks are refused by the spec model"
        if isinstance(field, FileHeaderField):
            record += _header_number(block, field)
            continue
        if field == "alfid":
            record += bytes([alfid(layout.address_bytes, layout.length_bytes)])
        elif field == "address":
            record += _number(block.address, layout.address_bytes, "address")
        elif field == "size":
            record += _number(block.size, layout.length_bytes, "size")
        elif field == "block_index":
            record += _number(block.index, layout.index_bytes, "block index")
        elif field == "crc16":
            record += crc16_ccitt(block.data).to_bytes(2, "big")
        elif field == "crc32":
            record += crc32(block.data).to_bytes(4, "big")
        elif field == "file_checksum":
            if block.file_checksum is None:
                raise UsageError(f"the flash specification sends the file's checksum of block {block.index}, "
                                 "and the software file gives none (only VBF files carry one)")
            record += _number(block.file_checksum, layout.checksum_bytes, "file checksum")
    return record


def _header_number(block: BlockRecordValues, field: FileHeaderField) -> bytes:
    text = block.header.get(field.file_header)
    if text is None:
        raise UsageError(f"the flash specification sends the software file's {field.file_header!r}, which its "
                         f"header does not have (it has: {', '.join(block.header) or 'no header'})")
    try:
        value = int(text, 0)
    except ValueError:
        raise UsageError(f"the software file's {field.file_header} is {text!r}, not a number") from None
    return _number(value, field.bytes, field.file_header)


def write_record(fields: list[WriteField], *, tester_serial: str, fingerprint: bytes,
                 today: datetime.date) -> bytes:
    """A DID record such as HIS's fingerprint: tester serial, programming date in BCD, constants."""
    record = b""
    for field in fields:
        if field == "date_bcd":
            record += bytes(int(f"{part % 100:02d}", 16) for part in (today.year, today.month, today.day))
        elif isinstance(field, TesterSerial):
            serial = tester_serial.encode("ascii", "replace")
            if len(serial) != field.tester_serial:
                raise UsageError(f"tester serial {tester_serial!r} has {len(serial)} bytes; the flash "
                                 f"specification writes {field.tester_serial}")
            record += serial
        elif isinstance(field, Fingerprint):
            if len(fingerprint) != field.fingerprint:
                raise UsageError(f"fingerprint {fingerprint!r} has {len(fingerprint)} bytes; the flash "
                                 f"specification writes {field.fingerprint}")
            record += fingerprint
        elif isinstance(field, HexBytes):
            record += field.value
    return record
