"""Property tests of the software file loaders (hypothesis, the profile of tests/conftest.py):
whatever blocks bincopy or a VBF writer puts in a file come back; a file with any single
character or byte changed is refused, a record file's on the changed line."""

from __future__ import annotations

from pathlib import Path

import bincopy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.errors import ConfigError
from bench.image.software import load_software
from vbf_files import vbf_bytes

Blocks = list[tuple[int, bytes]]
HEALTH = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def separate_blocks(draw: st.DrawFn) -> Blocks:
    """1 to 4 blocks in address order with gaps between them (adjacent ones would be one block)."""
    blocks: Blocks = []
    address = draw(st.integers(0, 0x00FF_0000))
    for _ in range(draw(st.integers(1, 4))):
        data = draw(st.binary(min_size=1, max_size=300))
        blocks.append((address, data))
        address += len(data) + draw(st.integers(1, 0x2_0000))
    return blocks


def record_file(tmp_path: Path, blocks: Blocks, kind: str) -> Path:
    binfile = bincopy.BinFile()
    for address, data in blocks:
        binfile.add_binary(data, address=address)
    path = tmp_path / f"file.{kind}"
    path.write_text(binfile.as_ihex() if kind == "hex" else binfile.as_srec(address_length_bits=32))
    return path


@pytest.mark.parametrize("kind", ["hex", "s37"])
@HEALTH
@given(blocks=separate_blocks())
def test_record_files_give_back_their_blocks(tmp_path: Path, kind: str, blocks: Blocks) -> None:
    software = load_software(record_file(tmp_path, blocks, kind))
    assert [(block.address, block.data) for block in software.blocks] == blocks


@pytest.mark.parametrize("kind", ["hex", "s37"])
@HEALTH
@given(blocks=separate_blocks(), where=st.floats(0, 1, exclude_max=True), change=st.integers(1, 15))
def test_a_changed_hex_digit_is_refused_on_its_line(tmp_path: Path, kind: str, blocks: Blocks, where: float,
                                                     change: int) -> None:
    path = record_file(tmp_path, blocks, kind)
    lines = path.read_text().splitlines()
    index = int(where * len(lines))
    line = lines[index]
    first = 1 if kind == "hex" else 2  # after ':' or 'Sn'
    column = first + int(where * 997) % (len(line) - first)
    digit = f"{(int(line[column], 16) + change) % 16:X}"
    lines[index] = line[:column] + digit + line[column + 1:]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_software(path)
    assert caught.value.line == index + 1


@HEALTH
@given(blocks=separate_blocks())
def test_vbf_files_give_back_their_blocks(tmp_path: Path, blocks: Blocks) -> None:
    path = tmp_path / "file.vbf"
    path.write_bytes(vbf_bytes(blocks))
    assert [(block.address, block.data) for block in load_software(path).blocks] == blocks


@HEALTH
@given(blocks=separate_blocks(), where=st.floats(0, 1, exclude_max=True), change=st.integers(1, 255))
def test_a_changed_byte_in_the_vbf_data_section_is_refused(tmp_path: Path, blocks: Blocks, where: float,
                                                            change: int) -> None:
    raw = bytearray(vbf_bytes(blocks))
    start = raw.index(b"}", raw.index(b"file_checksum")) + 1  # the header's closing brace
    offset = start + int(where * (len(raw) - start))
    raw[offset] = (raw[offset] + change) % 256
    path = tmp_path / "file.vbf"
    path.write_bytes(bytes(raw))
    with pytest.raises(ConfigError):
        load_software(path)
