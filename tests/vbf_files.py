"""Writes VBF files for tests: a header with the given fields, then blocks with their CRC-16,
and a file_checksum (CRC-32 of the data section) unless told otherwise."""

from __future__ import annotations

import binascii
import struct
import zlib

APP = (0x0001_0000, bytes(range(256)) * 2)
CAL = (0x0008_0000, bytes(0xA0 + i % 16 for i in range(96)))


def block_bytes(address: int, data: bytes, crc: int | None = None) -> bytes:
    crc = binascii.crc_hqx(data, 0xFFFF) if crc is None else crc
    return struct.pack(">II", address, len(data)) + data + crc.to_bytes(2, "big")


def vbf_bytes(blocks: list[tuple[int, bytes]] | None = None, *, data: bytes | None = None,
              file_checksum: int | None = None, extra: str = "") -> bytes:
    """A VBF file of ``blocks`` (default: APP and CAL), or of the raw data section ``data``."""
    section = data if data is not None else b"".join(block_bytes(a, d) for a, d in (blocks or [APP, CAL]))
    checksum = zlib.crc32(section) if file_checksum is None else file_checksum
    header = ("vbf_version = 2.6;\n"
              "header {\n"
              "    // the software of a test ECU\n"
              '    description = {"Test application", "two logical blocks"};\n'
              '    sw_part_number = "32285416";\n'
              '    sw_version = "AB";\n'
              "    sw_part_type = EXE;\n"
              "    ecu_address = 0x7E0;\n"
              "    erase = { { 0x00010000, 0x00030000 }, { 0x00080000, 0x00008000 } };\n"
              "    verification_block_start = 0x00010000;\n"
              f"{extra}"
              f"    file_checksum = 0x{checksum:08X};\n"
              "}")
    return header.encode("ascii") + section
