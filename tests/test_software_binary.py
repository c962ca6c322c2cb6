"""Raw binaries at a base address and the bench's own signed image as software files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.image import build_image
from bench.image.software import load_software

FIRMWARE = Path(__file__).resolve().parents[1] / "fixtures" / "firmware"


@pytest.fixture
def raw_binary(tmp_path: Path) -> Path:
    path = tmp_path / "app.bin"
    path.write_bytes(bytes(range(256)) * 4)
    return path


def test_a_binary_is_one_block_at_its_base_address(raw_binary: Path) -> None:
    software = load_software(raw_binary, base_address=0x10000)
    assert software.format == "binary"
    assert [(block.address, block.data) for block in software.blocks] == [(0x10000, raw_binary.read_bytes())]


def test_a_binary_without_a_base_address_says_how_to_give_one(raw_binary: Path) -> None:
    with pytest.raises(ConfigError, match="a raw binary has no addresses: give its base address") as caught:
        load_software(raw_binary)
    assert caught.value.file == str(raw_binary)


def test_a_binary_past_the_end_of_the_memory_map_names_the_first_byte_outside(raw_binary: Path) -> None:
    with pytest.raises(ConfigError, match=r"at byte offset 768 \(0x300\): data at 0x00010300-0x000103ff is outside "
                                          r"the ECU's memory map \(allowed: 0x00010000-0x000102ff\)"):
        load_software(raw_binary, base_address=0x10000, memory_map=[(0x10000, 0x300)])


def test_a_binary_below_the_memory_map_is_outside_from_its_first_byte(raw_binary: Path) -> None:
    with pytest.raises(ConfigError, match=r"at byte offset 0 \(0x0\)"):
        load_software(raw_binary, base_address=0x8000, memory_map=[(0x10000, 0x30000)])


def test_an_empty_binary_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(ConfigError, match="the binary is empty"):
        load_software(empty, base_address=0)


def test_a_bad_memory_map_is_a_config_error(raw_binary: Path) -> None:
    with pytest.raises(ConfigError, match=r"memory_map: memory map range \(0x0, 0x0\) needs"):
        load_software(raw_binary, base_address=0, memory_map=[(0, 0)])


def test_the_bench_image_is_one_block_at_the_profile_address(tmp_path: Path) -> None:
    image = build_image(FIRMWARE / "app-2.0.0.yaml")
    path = tmp_path / "app-2.0.0.bin"
    path.write_bytes(image.to_bytes())
    software = load_software(path, base_address=0x80000)
    assert software.format == "bench-image"
    assert software.header["version"] == "2.0.0" and software.header["key_id"] == image.header.key_id.hex()
    assert [(block.address, block.data) for block in software.blocks] == [(0x80000, image.to_bytes())]
    with pytest.raises(ConfigError, match="give the profile's memory.address as the base address"):
        load_software(path)


def test_a_damaged_bench_image_is_refused_not_read_as_a_binary(tmp_path: Path) -> None:
    raw = build_image(FIRMWARE / "app-2.0.0.yaml").to_bytes()
    path = tmp_path / "cut.bin"
    path.write_bytes(raw[:-10])
    with pytest.raises(ConfigError, match="not a valid bench image: payload length mismatch"):
        load_software(path, base_address=0x80000)
