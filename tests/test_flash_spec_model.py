"""Flash specifications as data: the shipped ones load, a mistake names the file, line and field,
and the records a spec describes are ISO 14229-1's bytes."""

from __future__ import annotations

import datetime
import zlib
from pathlib import Path

import pytest
from udsoncan import DataFormatIdentifier

from bench.config import load_bench
from bench.config import flash_spec as fs
from bench.config.flash_spec import HexBytes, OptionRecord, shipped_names, shipped_spec
from bench.errors import ConfigError, UsageError
from bench.flash.records import BlockRecordValues, crc16_ccitt, option_record, write_record

VIRTUAL = Path(__file__).resolve().parents[1] / "fixtures" / "benches" / "virtual.yaml"
SPEC = """\
name: acme
resume: restart_block
steps:
  - {do: session, session: programming}
  - do: logical_blocks
    erase: {routine_id: 0xFF00, option_record: [alfid, address, size]}
"""


def bench_with(tmp_path: Path, profile_lines: str, spec: str | None = None) -> Path:
    text = VIRTUAL.read_text().replace("../../", f"{VIRTUAL.parents[2]}/").replace("../", f"{VIRTUAL.parents[1]}/")
    text = text.replace("  ab:\n    bootloader: ab", f"  ab:\n{profile_lines}    bootloader: ab")
    (tmp_path / "bench.yaml").write_text(text)
    if spec is not None:
        (tmp_path / "acme.yaml").write_text(spec)
    return tmp_path / "bench.yaml"


def test_the_bench_ships_the_bench_and_his_specs() -> None:
    assert shipped_names() == ["bench", "his"]
    assert shipped_spec("bench").resume == "journal" and shipped_spec("his").resume == "restart_block"


def test_a_profile_takes_the_bench_spec_by_default_and_others_by_name_or_file(tmp_path: Path) -> None:
    bench = load_bench(bench_with(tmp_path, "    flash_spec: acme.yaml\n", SPEC))
    assert bench.profiles["single-bank"].flash_spec.name == "bench"
    assert bench.profiles["ab"].flash_spec.name == "acme"


def test_a_mistake_in_a_spec_file_names_that_file_line_and_field(tmp_path: Path) -> None:
    broken = SPEC.replace("option_record: [alfid, address, size]", "option_record: [alfid, adress, size]")
    with pytest.raises(ConfigError) as error:
        load_bench(bench_with(tmp_path, "    flash_spec: acme.yaml\n", broken))
    assert error.value.file == str(tmp_path / "acme.yaml") and error.value.line == 6
    assert error.value.field == "steps[1].erase.option_record[1]" and "'address'" in str(error.value)


def test_an_unknown_key_of_a_step_suggests_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"steps\[0\]\.sesion: unknown key 'sesion'; did you mean 'session'\?"):
        load_bench(bench_with(tmp_path, "    flash_spec: acme.yaml\n", SPEC.replace("session: programming",
                                                                                   "session: programming, sesion: 2")))


def test_an_inline_spec_is_checked_in_the_bench_file(tmp_path: Path) -> None:
    inline = "    flash_spec:\n      name: x\n      resume: sometimes\n      steps: [{do: ecu_reset}]\n"
    with pytest.raises(ConfigError) as error:
        load_bench(bench_with(tmp_path, inline))
    assert error.value.file == str(tmp_path / "bench.yaml") and error.value.field == "profiles.ab.flash_spec.resume"
    with pytest.raises(ConfigError, match="exactly one 'logical_blocks' step, this one has 0"):
        load_bench(bench_with(tmp_path, inline.replace("sometimes", "from_start")))


def test_unknown_names_and_missing_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no shipped flash specification 'hiss'"):
        load_bench(bench_with(tmp_path, "    flash_spec: hiss\n"))
    with pytest.raises(ConfigError, match="flash specification file not found"):
        load_bench(bench_with(tmp_path, "    flash_spec: nowhere.yaml\n"))


def test_a_journal_spec_must_agree_with_the_profile_the_flasher_sends(tmp_path: Path) -> None:
    path = bench_with(tmp_path, "")
    routines = "      commit_bank: 0x0211\n"  # the last line of the ab profile's routines
    assert routines in path.read_text()
    path.write_text(path.read_text().replace(routines, routines + "      erase: 0xFF10\n"))
    with pytest.raises(ConfigError, match="routines.erase 0xff10; the spec says 0xff00"):
        load_bench(path)


def test_unquoted_on_and_off_mean_the_words(tmp_path: Path) -> None:
    spec = SPEC + "  - {do: dtc_setting, setting: off, functional: true, suppress: true}\n"
    bench = load_bench(bench_with(tmp_path, "    flash_spec: acme.yaml\n", spec))
    assert bench.profiles["ab"].flash_spec.steps[-1].setting == "off"


@pytest.mark.parametrize("mistake, message", [
    ("  - {do: write_did, did: 0xF15A, record: [{tester_serial: 4}]}\n", "holds a 4-byte tester serial"),
    ("  - {do: routine, routine_id: 0x0202, option_record: [crc32]}\n", "describe a logical block"),
    ("  - {do: security_access, level: 0x12}\n", "odd requestSeed value"),
])
def test_inconsistent_steps_are_refused(tmp_path: Path, mistake: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_bench(bench_with(tmp_path, "    flash_spec: acme.yaml\n", SPEC + mistake))


def test_encryption_without_a_cipher_and_compression_without_zlib_are_refused(tmp_path: Path) -> None:
    for download, message in (("{encryption: 1}", "needs the cipher it stands for"),
                              ("{compression: 1}", "needs the codec")):
        spec = SPEC.replace("    erase:", f"    download: {download}\n    erase:")
        with pytest.raises(ConfigError, match=message):
            load_bench(bench_with(tmp_path, "    flash_spec: acme.yaml\n", spec))


# -- the bytes ---------------------------------------------------------------------------------------

BLOCK = BlockRecordValues(index=1, address=0x00080000, size=0x8000, data=b"123456789", file_checksum=0xBEEF)


def test_erase_record_is_alfid_address_size_big_endian() -> None:
    layout = OptionRecord(option_record=["alfid", "address", "size"])
    assert option_record(layout, BLOCK) == bytes.fromhex("44 00080000 00008000")
    short = OptionRecord(option_record=["alfid", "address", "size"], address_bytes=3, length_bytes=2)
    assert option_record(short, BLOCK) == bytes.fromhex("23 080000 8000")


def test_checksums_are_the_catalogued_crcs() -> None:
    assert crc16_ccitt(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE check value
    layout = OptionRecord(option_record=["crc32", "crc16", "block_index", "file_checksum", HexBytes(hex="AA")])
    assert option_record(layout, BLOCK) == (zlib.crc32(b"123456789").to_bytes(4, "big") + bytes.fromhex("29B1 01 BEEF AA"))
    assert zlib.crc32(b"123456789") == 0xCBF43926  # CRC-32/ISO-HDLC check value


def test_a_number_too_wide_for_its_field_and_a_missing_file_checksum_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="does not fit"):
        option_record(OptionRecord(option_record=["address"], address_bytes=2), BLOCK)
    with pytest.raises(UsageError, match="only VBF files carry one"):
        option_record(OptionRecord(option_record=["file_checksum"]),
                      BlockRecordValues(0, 0, 1, b"x", file_checksum=None))


def test_his_fingerprint_is_serial_and_bcd_date() -> None:
    record = write_record([fs.TesterSerial(tester_serial=6), "date_bcd"], tester_serial="OTABEN", fingerprint=b"",
                          today=datetime.date(2026, 12, 3))
    assert record == b"OTABEN" + bytes.fromhex("26 12 03")
    with pytest.raises(UsageError, match="tester serial 'LAB' has 3 bytes"):
        write_record([fs.TesterSerial(tester_serial=6)], tester_serial="LAB", fingerprint=b"", today=datetime.date.today())
    with pytest.raises(UsageError, match="writes 13"):
        write_record([fs.Fingerprint(fingerprint=13)], tester_serial="", fingerprint=b"short", today=datetime.date.today())


def test_data_format_identifier_is_compression_high_nibble_encryption_low() -> None:
    assert DataFormatIdentifier(compression=1, encryption=0).get_byte_as_int() == 0x10  # what the interpreter sends


def test_a_bench_dumped_to_json_and_read_back_keeps_its_flash_specs(tmp_path: Path) -> None:
    """Tests write benches with ``model_dump(mode="json")``: status meanings come back with text keys."""
    import yaml

    bench = load_bench(VIRTUAL)
    (tmp_path / "dumped.yaml").write_text(yaml.safe_dump(bench.model_dump(mode="json")))
    again = load_bench(tmp_path / "dumped.yaml")
    assert {n: p.flash_spec for n, p in again.profiles.items()} == {n: p.flash_spec for n, p in bench.profiles.items()}


def test_a_number_of_the_files_header_is_sent_at_its_width() -> None:
    """e.g. a signature a VBF header carries, passed on to the check routine."""
    signed = BlockRecordValues(0, 0, 1, b"x", header={"sw_signature_dev": "0xa0b0c0d"})
    layout = OptionRecord(option_record=[fs.FileHeaderField(file_header="sw_signature_dev", bytes=8)])
    assert option_record(layout, signed) == bytes.fromhex("00000000 0A0B0C0D")
    with pytest.raises(UsageError, match="header does not have"):
        option_record(layout, BlockRecordValues(0, 0, 1, b"x"))
    with pytest.raises(UsageError, match="not a number"):
        option_record(layout, BlockRecordValues(0, 0, 1, b"x", header={"sw_signature_dev": "AB"}))


def test_a_file_header_field_outside_the_logical_blocks_is_refused(tmp_path: Path) -> None:
    step = "  - {do: routine, routine_id: 0x0202, option_record: [{file_header: sw_signature_dev, bytes: 4}]}\n"
    with pytest.raises(ConfigError, match="file_header sw_signature_dev describe a logical block"):
        load_bench(bench_with(tmp_path, "    flash_spec: acme.yaml\n", SPEC + step))


def test_a_his_bootloader_left_on_the_bench_spec_is_refused(tmp_path: Path) -> None:
    text = VIRTUAL.read_text()
    assert "    flash_spec: his" in text
    bench = bench_with(tmp_path, "")
    bench.write_text(bench.read_text().replace("    flash_spec: his ", "    # no flash_spec "))
    with pytest.raises(ConfigError, match="a his bootloader does not keep: name its own spec"):
        load_bench(bench)


def test_scenario_phases_name_what_the_flash_spec_sends() -> None:
    """The catalog points preconditions, fingerprint, check_block and check are the spec's requests (the
    runner falls back on the profile's routines where a spec has none)."""
    his, bench = shipped_spec("his"), shipped_spec("bench")
    assert (his.preconditions_routine, his.fingerprint_did, his.check_block_routine, his.dependencies_routine) \
        == (0x0203, 0xF15A, 0x0202, 0xFF01)
    assert (bench.preconditions_routine, bench.check_block_routine, bench.dependencies_routine) == (None, None, 0xFF01)
