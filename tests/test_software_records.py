"""Intel HEX and Motorola S-record files into logical blocks, and every malformed file refused with
the file, the line and what is wrong."""

from __future__ import annotations

from pathlib import Path

import bincopy
import pytest

from bench.errors import ConfigError
from bench.image.software import load_software

DATA = Path(__file__).resolve().parent / "data" / "software"
APP = bytes(range(256)) * 2
CAL = bytes(0xA0 + i % 16 for i in range(96))


def edited(tmp_path: Path, name: str, line: int, replacement: str | None, *, suffix: str = "") -> Path:
    """A copy of a data file with line ``line`` (from 1) replaced (or, with ``None``, removed)."""
    lines = (DATA / name).read_text().splitlines()
    if replacement is None:
        del lines[line - 1]
    else:
        lines[line - 1] = replacement
    target = tmp_path / (suffix and Path(name).stem + suffix or name)
    target.write_text("\n".join(lines) + "\n")
    return target


def with_checksum(record: str) -> str:
    """A HEX record (without checksum) completed with its right checksum."""
    return record + f"{bincopy.crc_ihex(record[1:]):02X}"


@pytest.mark.parametrize("name", ["two-blocks.hex", "two-blocks.s37"])
def test_a_two_block_file_loads_as_two_logical_blocks(name: str) -> None:
    software = load_software(DATA / name)
    assert [(block.address, block.data) for block in software.blocks] == [(0x10000, APP), (0x80000, CAL)]
    assert software.size == len(APP) + len(CAL)
    assert software.format == {"hex": "intel-hex", "s37": "s-record"}[name.rsplit(".", 1)[1]]


def test_the_s0_record_is_the_header_of_an_s_record_file() -> None:
    assert load_software(DATA / "two-blocks.s37").header["s0_header"] == "two-blocks"


def test_a_start_address_record_is_kept_in_the_header(tmp_path: Path) -> None:
    path = edited(tmp_path, "two-blocks.hex", 22, with_checksum(":0400000500010004") + "\n:00000001FF")
    assert load_software(path).header["start_address"] == "0x00010004"


def test_an_unknown_extension_is_recognised_by_content(tmp_path: Path) -> None:
    path = tmp_path / "firmware.txt"
    path.write_bytes((DATA / "two-blocks.hex").read_bytes())
    assert load_software(path).format == "intel-hex"


def test_a_bad_record_checksum_names_the_line(tmp_path: Path) -> None:
    lines = (DATA / "two-blocks.hex").read_text().splitlines()
    path = edited(tmp_path, "two-blocks.hex", 5, lines[4][:-2] + "00")
    with pytest.raises(ConfigError) as caught:
        load_software(path)
    assert caught.value.file == str(path) and caught.value.line == 5
    assert "bad record checksum" in str(caught.value) and f"{path}:5:" in str(caught.value)


def test_a_bad_s_record_checksum_names_the_line(tmp_path: Path) -> None:
    lines = (DATA / "two-blocks.s37").read_text().splitlines()
    path = edited(tmp_path, "two-blocks.s37", 3, lines[2][:-2] + "00")
    with pytest.raises(ConfigError, match="bad record checksum") as caught:
        load_software(path)
    assert caught.value.line == 3


@pytest.mark.parametrize(("record", "what"), [
    (":10000000ZZ", "hexadecimal"),
    ("10000000000102", "bad record syntax"),
    (":0400000000010203", "bad record syntax"),  # says 4 data bytes, carries 3 and a checksum
])
def test_bad_record_syntax_names_the_line(tmp_path: Path, record: str, what: str) -> None:
    with pytest.raises(ConfigError, match=what) as caught:
        load_software(edited(tmp_path, "two-blocks.hex", 7, record))
    assert caught.value.line == 7


def test_a_file_cut_before_its_end_of_file_record_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no end-of-file record.*truncated") as caught:
        load_software(edited(tmp_path, "two-blocks.hex", 22, None))
    assert caught.value.line == 21


def test_a_record_after_the_end_of_file_record_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "two-blocks.hex", 22, ":00000001FF\n" + with_checksum(":0100000000"))
    with pytest.raises(ConfigError, match="after the end-of-file record on line 22") as caught:
        load_software(path)
    assert caught.value.line == 23


def test_overlapping_segments_name_both_lines(tmp_path: Path) -> None:
    # line 2 writes 0x10000-0x1001F; a record on line 22 writes 0x10010 again
    path = edited(tmp_path, "two-blocks.hex", 22,
                  ":020000040001F9\n" + with_checksum(":02001000BEEF") + "\n:00000001FF")
    with pytest.raises(ConfigError, match="overlapping segments.*0x00010010-0x00010011.*line 2") as caught:
        load_software(path)
    assert caught.value.line == 23


def test_an_overlap_bridging_two_segments_is_found(tmp_path: Path) -> None:
    """bincopy joins a record that ends inside the next segment without a word; the loader does not."""
    lines = [with_checksum(":04000000" + "11" * 4), with_checksum(":04000800" + "22" * 4),
             with_checksum(":06000400" + "33" * 6), ":00000001FF"]
    path = tmp_path / "bridge.hex"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="overlapping segments.*0x00000008-0x00000009.*line 2") as caught:
        load_software(path)
    assert caught.value.line == 3


def test_an_address_outside_the_memory_map_names_the_line() -> None:
    memory_map = [(0x10000, 0x30000)]  # the application block only: the calibration block is outside
    with pytest.raises(ConfigError, match="0x00080000-0x0008001f is outside the ECU's memory map "
                                          r"\(allowed: 0x00010000-0x0003ffff\)") as caught:
        load_software(DATA / "two-blocks.hex", memory_map=memory_map)
    assert caught.value.line == 19  # the first data record after the extended address on line 18
    assert load_software(DATA / "two-blocks.hex", memory_map=[*memory_map, (0x80000, 0x8000)]).size == 608


def test_a_record_count_that_disagrees_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "two-blocks.s37", 10, None)  # a data record goes missing
    with pytest.raises(ConfigError, match="record count says 19 data records, the file has 18") as caught:
        load_software(path)
    assert caught.value.line == 20


def test_a_base_address_for_a_file_with_addresses_is_a_mistake() -> None:
    with pytest.raises(ConfigError, match="base address applies to raw binaries"):
        load_software(DATA / "two-blocks.hex", base_address=0x1000)


def test_an_unknown_format_says_which_formats_are_read(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ConfigError, match=r"unknown software file format.*intel-hex \(\.hex \.ihex\)") as caught:
        load_software(path)
    assert caught.value.file == str(path)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read software file"):
        load_software(tmp_path / "absent.hex")


def test_a_non_ascii_byte_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin.hex"
    path.write_bytes(b":00000001FF\n\xe9\n")
    with pytest.raises(ConfigError, match="byte 0xe9 at column 1 is not ASCII") as caught:
        load_software(path)
    assert caught.value.line == 2


@pytest.mark.parametrize(("name", "text"), [("empty.hex", ":00000001FF\n"), ("empty.s19", "S00600004844521B\n")])
def test_a_file_without_data_is_refused(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match="no data records: there is nothing to flash"):
        load_software(path)


def test_a_software_file_is_parsed_once_while_unchanged(tmp_path, monkeypatch) -> None:
    import os

    from bench.image.software import intel_hex, loader

    path = tmp_path / "app.hex"
    path.write_text(":0400000001020304F2\n:00000001FF\n")
    parsed = []
    real = intel_hex.load
    monkeypatch.setattr(loader, "_FORMATS", tuple(
        fmt if fmt.name != intel_hex.FORMAT else loader._Format(
            fmt.name, fmt.extensions, fmt.looks_like,
            loader._addressed(lambda *args: parsed.append(1) or real(*args), "Intel HEX"))
        for fmt in loader._FORMATS))
    first, second = loader.load_software(path), loader.load_software(path)
    assert first == second and first.blocks[0].data == b"\x01\x02\x03\x04" and len(parsed) == 1
    first.header["mine"] = "x"  # a caller's header is its own
    assert "mine" not in loader.load_software(path).header
    path.write_text(":0400000005060708E2\n:00000001FF\n")
    os.utime(path, ns=(1, 1))  # another modification time: parsed again
    assert loader.load_software(path).blocks[0].data == b"\x05\x06\x07\x08" and len(parsed) == 2
