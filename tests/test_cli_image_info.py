"""``ota-bench image info FILE``: format, header, blocks with both checksums, total; and the
image command's build forms (``image build RECIPE -o OUT`` and the older ``image RECIPE -o OUT``)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from bench.cli import main
from bench.image import FirmwareImage

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "software"
RECIPE = REPO / "fixtures" / "firmware" / "app-2.0.0.yaml"
APP = bytes(range(256)) * 2
CAL = bytes(0xA0 + i % 16 for i in range(96))


def row(out: str, first: str) -> list[str]:
    """The cells of the output line starting with ``first`` (cells are separated by 2+ spaces)."""
    line = next(line for line in out.splitlines() if line.startswith(first))
    return [cell.strip() for cell in line.split("  ") if cell.strip()]


def test_info_of_a_vbf_prints_header_blocks_both_checksums_and_total(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", "info", str(DATA / "two-blocks.vbf")]) == 0
    out = capsys.readouterr().out
    assert "format  vbf" in out
    assert row(out, "  sw_part_number") == ["sw_part_number", "32285416"]
    assert row(out, "  sw_version") == ["sw_version", "AB"]
    assert row(out, "block 0") == ["block 0", "0x00010000", "0x00010200", "512 (0x200)",
                                   f"{0x56EE:#06x}", f"{zlib.crc32(APP):#010x}"]
    assert row(out, "block 1")[1:4] == ["0x00080000", "0x00080060", "96 (0x60)"]
    assert row(out, "block 1")[5] == f"{zlib.crc32(CAL):#010x}"
    assert "file checksum (CRC-16/CCITT-FALSE)" in out
    assert "total   2 block(s), 608 bytes (0x260)" in out


def test_info_of_a_hex_file_shows_no_file_checksum(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", "info", str(DATA / "two-blocks.hex")]) == 0
    out = capsys.readouterr().out
    assert "format  intel-hex" in out and "header" not in out
    assert row(out, "block 1") == ["block 1", "0x00080000", "0x00080060", "96 (0x60)", "-", f"{zlib.crc32(CAL):#010x}"]


def test_info_of_a_binary_takes_its_base_address(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "app.bin"
    path.write_bytes(APP)
    assert main(["image", "info", str(path), "--base-address", "0x10000"]) == 0
    assert row(capsys.readouterr().out, "block 0")[:3] == ["block 0", "0x00010000", "0x00010200"]
    assert main(["image", "info", str(path)]) == 2
    assert "give its base address" in capsys.readouterr().err


def test_info_of_a_broken_file_exits_2_naming_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.hex"
    path.write_text(":0400000001020304F0\n:00000001FF\n")  # the first record's checksum is wrong
    assert main(["image", "info", str(path)]) == 2
    assert f"{path}:1: bad record checksum" in capsys.readouterr().err


@pytest.mark.parametrize("form", [["image", "build"], ["image"]])
def test_build_in_both_forms_writes_an_image(tmp_path: Path, form: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "app.bin"
    assert main([*form, str(RECIPE), "-o", str(out)]) == 0
    assert FirmwareImage.from_bytes(out.read_bytes()).header.version == "2.0.0"


@pytest.mark.parametrize(("argv", "message"), [
    (["image", "build", str(RECIPE)], "image build needs -o/--output"),
    (["image", "info"], "image info needs a file"),
    (["image", "info", str(DATA / "two-blocks.hex"), "-o", "x.bin"], "-o/--output belongs to image build"),
    (["image", "show", str(RECIPE)], "unknown image action 'show'"),
])
def test_misused_image_command_is_a_user_error(argv: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
