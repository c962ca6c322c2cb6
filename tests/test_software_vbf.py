"""VBF files into logical blocks (header fields, erase ranges, block CRC-16), and every broken
VBF refused with the file, the byte offset and what is wrong."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.image.software import load_software
from bench.image.software.vbf import crc16_ccitt_false
from vbf_files import APP, CAL, block_bytes, vbf_bytes

DATA = Path(__file__).resolve().parent / "data" / "software"


def write(tmp_path: Path, raw: bytes, name: str = "app.vbf") -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def refusal(path: Path, **options: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_software(path, **options)  # type: ignore[arg-type]
    assert caught.value.file == str(path)
    return caught.value


def data_offset(raw: bytes) -> int:
    return raw.index(b"}\x00") + 1  # the header's closing brace, then the first block's address


def test_crc16_is_ccitt_false() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1  # the catalogue's check value


def test_a_vbf_loads_its_header_blocks_erase_ranges_and_checksums() -> None:
    software = load_software(DATA / "two-blocks.vbf")
    assert software.format == "vbf"
    assert software.header["sw_part_number"] == "32285416" and software.header["sw_version"] == "AB"
    assert software.header["sw_part_type"] == "EXE" and software.header["vbf_version"] == "2.6"
    assert software.header["description"] == '{"Test application", "two logical blocks"}'
    assert [(block.address, block.data) for block in software.blocks] == [APP, CAL]
    assert [block.erase for block in software.blocks] == [((0x10000, 0x30000),), ((0x80000, 0x8000),)]
    assert [block.checksum for block in software.blocks] == [crc16_ccitt_false(APP[1]), crc16_ccitt_false(CAL[1])]


def test_blocks_come_in_address_order_whatever_the_file_order(tmp_path: Path) -> None:
    software = load_software(write(tmp_path, vbf_bytes([CAL, APP])))
    assert [block.address for block in software.blocks] == [APP[0], CAL[0]]


def test_a_block_crc_mismatch_names_its_offset(tmp_path: Path) -> None:
    section = block_bytes(*APP) + block_bytes(*CAL, crc=0x1234)
    raw = vbf_bytes(data=section)
    error = refusal(write(tmp_path, raw))
    crc_offset = data_offset(raw) + len(block_bytes(*APP)) + 8 + len(CAL[1])
    assert f"at byte offset {crc_offset} ({crc_offset:#x}): VBF block 1 at 0x00080000: CRC-16 mismatch, " \
           f"the file carries 0x1234, the data has {crc16_ccitt_false(CAL[1]):#06x}" in str(error)


def test_a_file_checksum_mismatch_names_the_data_section(tmp_path: Path) -> None:
    raw = vbf_bytes(file_checksum=0xDEADBEEF)
    error = refusal(write(tmp_path, raw))
    assert f"at byte offset {data_offset(raw)}" in str(error)
    actual = zlib.crc32(block_bytes(*APP) + block_bytes(*CAL))
    assert f"file_checksum mismatch: the header says 0xdeadbeef, the data section (from here to the end) has " \
           f"CRC-32 {actual:#010x}" in str(error)


@pytest.mark.parametrize(("cut", "what"), [
    (5, "truncated VBF block 1: 5 byte(s) left, a block header (address, length) needs 8"),
    (8 + 40, "truncated VBF block 1 at 0x00080000: its header says 96 data bytes and a CRC-16, 40 byte(s) are left"),
])
def test_a_truncated_block_names_its_offset(tmp_path: Path, cut: int, what: str) -> None:
    section = block_bytes(*APP) + block_bytes(*CAL)[:cut]
    raw = vbf_bytes(data=section)  # a file_checksum of the cut data: the block is what is wrong
    error = refusal(write(tmp_path, raw))
    offset = data_offset(raw) + len(block_bytes(*APP))
    assert f"at byte offset {offset} ({offset:#x}): {what}" in str(error)


def test_overlapping_blocks_are_refused(tmp_path: Path) -> None:
    raw = vbf_bytes([APP, (APP[0] + 0x100, b"\x55" * 16)])
    error = refusal(write(tmp_path, raw))
    offset = data_offset(raw) + len(block_bytes(*APP))
    assert f"at byte offset {offset}" in str(error)
    assert "overlapping segments: block 1 at 0x00010100 starts inside block 0 (0x00010000-0x000101ff)" in str(error)


def test_a_block_outside_the_memory_map_names_its_offset(tmp_path: Path) -> None:
    raw = vbf_bytes()
    error = refusal(write(tmp_path, raw), memory_map=[(0x10000, 0x30000)])
    offset = data_offset(raw) + len(block_bytes(*APP))
    assert f"at byte offset {offset} ({offset:#x}): VBF block 1: data at 0x00080000-0x0008005f is outside " \
           "the ECU's memory map" in str(error)


@pytest.mark.parametrize(("text", "line", "what"), [
    (b"vbf_versio = 2.6;", 1, "starts with 'vbf_version = ...;'"),
    (b"vbf_version = 2.6;\nheader {\n  sw_version = \"A\"\n  sw_part_type = EXE;\n}", 4,
     "field 'sw_version': expected ';' after its value, found 'sw_part_type'"),
    (b"vbf_version = 2.6;\nheader {\n  erase = { {1, 2}, {3 4} };\n}", 3, "expected ',' or '}' in a list"),
    (b"vbf_version = 2.6;\nheader {\n  sw_version = \"A\";\n", 4, "found 'the end of the file'"),
    (b"vbf_version = 2.6;\nheader {\n  sw_version = \"A\";\n  sw_version = \"B\";\n}", 4, "given twice"),
])
def test_a_malformed_header_names_its_line(tmp_path: Path, text: bytes, line: int, what: str) -> None:
    error = refusal(write(tmp_path, text))
    assert error.line == line and what in str(error)


def test_a_malformed_erase_field_is_named(tmp_path: Path) -> None:
    raw = vbf_bytes().replace(b"{ 0x00080000, 0x00008000 }", b"{ 0x00080000 }")
    assert "erase must be { {start, length}, ... }" in str(refusal(write(tmp_path, raw)))


def test_compressed_data_is_refused_rather_than_misread(tmp_path: Path) -> None:
    raw = vbf_bytes(extra="    data_format_identifier = 0x10;\n")
    assert "data_format_identifier 0x10: compressed or encrypted VBF data is not read" in str(
        refusal(write(tmp_path, raw)))


def test_a_vbf_without_data_is_refused(tmp_path: Path) -> None:
    assert "has no data block" in str(refusal(write(tmp_path, vbf_bytes(data=b""))))


def test_a_vbf_is_recognised_by_content(tmp_path: Path) -> None:
    assert load_software(write(tmp_path, vbf_bytes(), name="app.dat")).format == "vbf"
