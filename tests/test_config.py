"""Bench files: the shipped virtual bench loads; every mistake names file, line and field."""

from __future__ import annotations

from pathlib import Path

import cantools
import pytest

from bench.config import BenchConfig, load_bench
from bench.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "fixtures" / "benches" / "virtual.yaml"
DBC = REPO / "dbc" / "virtual_vehicle.dbc"
KEY = REPO / "fixtures" / "keys" / "dev_ed25519.pub.pem"

BASE = f"""\
name: test-bench
dbc:
  - {DBC}
buses:
  body:
    interface: virtual
    channel: t-body
    bitrate: 500000
  pt:
    interface: virtual
    channel: t-pt
    fd: true
    data_bitrate: 2000000
power:
  kl30:
    driver: virtual
profiles:
  sb:
    bootloader: single_bank
    security:
      key_function: bench.keys:xor_key
ecus:
  bcm:
    bus: body
    request_id: 0x7E0
    response_id: 0x7E8
    power: kl30
    profile: sb
    virtual:
      trusted_key: {KEY}
      status_message: BCM_OtaStatus
  bms:
    bus: pt
    request_id: 0x7E1
    response_id: 0x7E9
    profile: sb
"""


def write(tmp_path: Path, text: str, name: str = "bench.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, f"test setup: {old!r} must occur once"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    hits = [number for number, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"test setup: {needle!r} must be on exactly one line, found {hits}"
    return hits[0]


def load_error(tmp_path: Path, text: str) -> tuple[str, Path]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_bench(path)
    return str(caught.value), path.resolve()


def assert_points_at(message: str, path: Path, line: int, field: str) -> None:
    assert f"{path}:{line}: {field}: " in message, message


# -- what ships -----------------------------------------------------------------------------

def test_shipped_virtual_bench_loads_with_absolute_paths() -> None:
    bench = load_bench(SHIPPED)
    assert bench.source == SHIPPED
    assert set(bench.ecus) == {"bcm", "bms", "eps"}
    assert bench.dbc == [DBC]
    bcm, bms = bench.ecus["bcm"], bench.ecus["bms"]
    assert (bcm.request_id, bcm.response_id, bcm.functional_id) == (0x7E0, 0x7E8, 0x7DF)
    assert (bms.request_id, bms.response_id, bms.functional_id) == (0x7E1, 0x7E9, 0x7DF)
    assert bench.buses[bcm.bus].fd is False
    assert bench.buses[bms.bus].fd is True and bench.buses[bms.bus].data_bitrate == 2_000_000
    assert bench.profiles[bcm.profile].bootloader == "single_bank"
    assert bench.profiles[bms.profile].bootloader == "ab"
    assert bench.profiles["ab"].security.key_params == {"secret": 0x5A3C7E11}
    assert bench.profiles["ab"].memory.size == 0x00110000
    for ecu in (bcm, bms):
        assert ecu.virtual is not None and ecu.virtual.factory_image is not None
        assert ecu.virtual.factory_image.is_absolute() and ecu.virtual.factory_image.is_file()
        assert ecu.virtual.factory_image == REPO / "fixtures" / "firmware" / "app-1.0.0.yaml"


def test_shipped_dbc_has_the_status_messages() -> None:
    database = cantools.database.load_file(str(DBC))
    for name, frame_id, sender in (("BCM_OtaStatus", 0x510, "BCM"), ("BMS_OtaStatus", 0x511, "BMS")):
        message = database.get_message_by_name(name)
        assert (message.frame_id, message.length, message.senders) == (frame_id, 8, [sender])
        assert message.cycle_time == 100
        lengths = {signal.name: signal.length for signal in message.signals}
        assert lengths == {"SwVersionMajor": 8, "SwVersionMinor": 8, "SwVersionPatch": 8,
                           "ActiveBank": 2, "BootState": 3, "AliveCounter": 4}
        assert all(s.byte_order == "little_endian" and not s.is_signed for s in message.signals)
        frame = message.encode({"SwVersionMajor": 2, "SwVersionMinor": 0, "SwVersionPatch": 1,
                                "ActiveBank": "B", "BootState": "TrialBoot", "AliveCounter": 15})
        decoded = message.decode(frame)
        assert (decoded["ActiveBank"], decoded["BootState"]) == ("B", "TrialBoot")


# -- valid files ------------------------------------------------------------------------------

def test_base_bench_loads(tmp_path: Path) -> None:
    bench = load_bench(write(tmp_path, BASE))
    assert isinstance(bench, BenchConfig)
    assert bench.ecus["bcm"].request_id == 0x7E0


def test_relative_paths_resolve_against_the_bench_folder(tmp_path: Path) -> None:
    (tmp_path / "dbc").mkdir()
    (tmp_path / "dbc" / "car.dbc").write_text(DBC.read_text())
    (tmp_path / "firmware").mkdir()
    (tmp_path / "firmware" / "app.yaml").write_text("version: 1.0.0\n")
    (tmp_path / "benches").mkdir()
    text = edit(f"  - {DBC}", "  - ../dbc/car.dbc")
    text = edit("      status_message: BCM_OtaStatus",
                "      status_message: BCM_OtaStatus\n      factory_image: ../firmware/app.yaml", text)
    bench = load_bench(write(tmp_path / "benches", text))
    assert bench.dbc == [tmp_path.resolve() / "dbc" / "car.dbc"]
    virtual = bench.ecus["bcm"].virtual
    assert virtual is not None and virtual.factory_image == tmp_path.resolve() / "firmware" / "app.yaml"


def test_same_ids_on_different_buses_are_fine(tmp_path: Path) -> None:
    text = edit("    request_id: 0x7E1\n    response_id: 0x7E9", "    request_id: 0x7E0\n    response_id: 0x7E8")
    assert load_bench(write(tmp_path, text)).ecus["bms"].request_id == 0x7E0


# -- mistakes -----------------------------------------------------------------------------------

def test_missing_bench_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found") as caught:
        load_bench(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(caught.value)


def test_missing_required_key_points_at_its_parent(tmp_path: Path) -> None:
    assert BASE.endswith("  bms:\n    bus: pt\n    request_id: 0x7E1\n    response_id: 0x7E9\n    profile: sb\n")
    text = BASE.removesuffix("    profile: sb\n")
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, "  bms:"), "ecus.bms.profile")
    assert "required" in message


# One edit of the base file each: (old text, new text, the text on the offending line,
# the field the error must name, words the message must contain).
SINGLE_MISTAKES = {
    "unknown-key": ("    bitrate: 500000", "    bitrat: 500000", "bitrat:", "buses.body.bitrat",
                    ["unknown key 'bitrat'", "did you mean 'bitrate'"]),
    "wrong-type": ("request_id: 0x7E1", 'request_id: "abc"', '"abc"', "ecus.bms.request_id",
                   ["valid integer", "'abc'"]),
    "yes-is-not-a-CAN-id": ("response_id: 0x7E9", "response_id: yes", "response_id: yes",
                            "ecus.bms.response_id", ["valid integer"]),
    "unknown-bus": ("    bus: pt", "    bus: chassis", "chassis", "ecus.bms.bus",
                    ["unknown bus 'chassis'", "body, pt"]),
    "unknown-profile": ("    power: kl30\n    profile: sb", "    power: kl30\n    profile: dual",
                        "dual", "ecus.bcm.profile", ["unknown profile 'dual'", "defines: sb"]),
    "unknown-power": ("    power: kl30", "    power: kl15", "kl15", "ecus.bcm.power",
                      ["unknown power 'kl15'", "kl30"]),
    "unknown-console": ("    power: kl30", "    power: kl30\n    console: uart0", "uart0",
                        "ecus.bcm.console", ["unknown console 'uart0'"]),
    "bad-interface": ("  body:\n    interface: virtual", "  body:\n    interface: vritual", "vritual",
                      "buses.body.interface", ["'vritual'", "socketcan", "pcan", "virtual"]),
    "status_message-not-in-DBC": ("status_message: BCM_OtaStatus", "status_message: BCM_Status",
                                  "BCM_Status", "ecus.bcm.virtual.status_message",
                                  ["'BCM_Status'", "BCM_OtaStatus, BMS_OtaStatus"]),
    "data_bitrate-on-classic-bus": ("    bitrate: 500000", "    bitrate: 500000\n    data_bitrate: 1",
                                    "data_bitrate: 1", "buses.body.data_bitrate", ["fd: false"]),
    "missing-factory-image": ("      status_message: BCM_OtaStatus", "      factory_image: gone.yaml",
                              "gone.yaml", "ecus.bcm.virtual.factory_image", ["file not found"]),
    "memory-beyond-address-space": ("    bootloader: single_bank",
                                    "    bootloader: single_bank\n    memory: {address: 0xFFFF0000, size: 0x20000}",
                                    "memory:", "profiles.sb.memory", ["does not fit"]),
    "29-bit-id-on-11-bit-ECU": ("    request_id: 0x7E1", "    request_id: 0x18DA10F1", "0x18DA10F1",
                                "ecus.bms.request_id", ["11-bit"]),
}


@pytest.mark.parametrize("mistake", SINGLE_MISTAKES)
def test_single_mistake(tmp_path: Path, mistake: str) -> None:
    old, new, needle, field, words = SINGLE_MISTAKES[mistake]
    text = edit(old, new)
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, needle), field)
    for word in words:
        assert word in message, message


def test_missing_dbc_file(tmp_path: Path) -> None:
    text = edit(f"  - {DBC}", "  - missing.dbc")
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, "missing.dbc"), "dbc[0]")
    assert str(tmp_path.resolve() / "missing.dbc") in message


def test_unparsable_dbc_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.dbc").write_text('VERSION ""\nBO_ 1296 Oops 8 BCM\n SG_ x : nonsense\n')
    text = edit(f"  - {DBC}", "  - broken.dbc")
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, "broken.dbc"), "dbc[0]")
    assert f"cannot parse DBC file {tmp_path.resolve() / 'broken.dbc'}" in message


@pytest.mark.parametrize(("spec", "words"), [
    ("no_such_oem.keys:compute", "could not import module 'no_such_oem.keys'"),
    ("bench.keys:no_such_key", "could not import 'no_such_key'"),
    ("bench.keys.xor_key", "not of the form 'package.module:callable'"),
])
def test_key_function_not_importable(tmp_path: Path, spec: str, words: str) -> None:
    text = edit("key_function: bench.keys:xor_key", f"key_function: {spec}")
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, spec), "profiles.sb.security.key_function")
    assert "profile 'sb'" in message and words in message


def test_duplicate_request_id_on_one_bus(tmp_path: Path) -> None:
    text = BASE + "  door:\n    bus: body\n    request_id: 0x7E0\n    response_id: 0x7EA\n    profile: sb\n"
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, len(text.splitlines()) - 2, "ecus.door.request_id")
    assert "0x7e0" in message and "'bcm'" in message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = edit("    response_id: 0x7E9", "    response_id: 0x7E9\n    request_id: 0x7E2")
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, "0x7E2"), "ecus.bms.request_id")
    assert f"first written on line {line_of(text, '0x7E1')}" in message


def test_yaml_syntax_error(tmp_path: Path) -> None:
    text = edit("    channel: t-pt", "    channel: [t-pt\n    fd: true")
    message, path = load_error(tmp_path, text)
    assert "YAML syntax error" in message
    started = line_of(text, "[t-pt")
    assert f"{path}:{started + 1}: YAML syntax error" in message  # where the parser gave up
    assert f"started on line {started}" in message


def test_every_problem_is_listed(tmp_path: Path) -> None:
    text = edit("    bitrate: 500000", "    bitrat: 500000")
    text = edit("request_id: 0x7E1", "request_id: abc", text)
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, "bitrat:"), "buses.body.bitrat")
    assert_points_at(message, path, line_of(text, "request_id: abc"), "ecus.bms.request_id")


# -- names and settings that higher layers use, checked at load time ------------------------

def test_unknown_mutant_names_the_field_and_suggests(tmp_path: Path) -> None:
    text = edit("      status_message: BCM_OtaStatus", "      status_message: BCM_OtaStatus\n      mutant: forget_jurnal")
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, "forget_jurnal"), "ecus.bcm.virtual.mutant")
    assert "did you mean 'forget_journal'?" in message


def test_mutant_of_another_kind_of_bootloader_is_refused(tmp_path: Path) -> None:
    text = edit("      status_message: BCM_OtaStatus",
                "      status_message: BCM_OtaStatus\n      mutant: no_trial_rollback")  # an A/B defect
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, "no_trial_rollback"), "ecus.bcm.virtual.mutant")
    assert "not of a single_bank one" in message


def test_the_mutant_names_are_those_the_simulator_builds() -> None:
    from bench.config.registries import MUTANT_BOOTLOADERS
    from bench.sim.mutants import MUTANTS

    assert {name: mutant.bootloaders for name, mutant in MUTANTS.items()} == MUTANT_BOOTLOADERS


def test_scpi_dialect_is_checked_at_load_time(tmp_path: Path) -> None:
    text = edit("power:\n", "power:\n  psu:\n    driver: scpi\n    url: /dev/ttyUSB0\n    commands:\n"
                            "      output_on: OUTP ON\n      outptu_off: OUTP OFF\n")
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, "outptu_off"), "power.psu.commands.outptu_off")
    assert "scpi supply 'psu': unknown SCPI command key 'outptu_off'" in message


def test_scpi_placeholder_is_checked_at_load_time(tmp_path: Path) -> None:
    text = edit("power:\n", "power:\n  psu:\n    driver: scpi\n    url: /dev/ttyUSB0\n    commands:\n"
                            "      set_voltage: 'VOLT {volt}'\n")
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, "VOLT {volt}"), "power.psu.commands.set_voltage")
    assert "unknown placeholder {volt}" in message


def test_relay_channel_out_of_range_is_checked_at_load_time(tmp_path: Path) -> None:
    text = edit("power:\n", "power:\n  body_relay:\n    driver: relay\n    url: /dev/ttyACM0\n    channel: 32\n")
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, "channel: 32"), "power.body_relay.channel")
    assert "relay channel 32 out of range 0..31" in message


def test_key_function_with_another_signature_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "oem_keys_one_argument.py").write_text("def compute(seed):\n    return seed\n")
    monkeypatch.syspath_prepend(tmp_path)
    text = edit("key_function: bench.keys:xor_key", "key_function: oem_keys_one_argument:compute")
    message, path = load_error(tmp_path, text)
    assert_points_at(message, path, line_of(text, "oem_keys_one_argument:compute"), "profiles.sb.security.key_function")
    assert "(level, seed, params)" in message and "compute(seed)" in message


def test_with_network_margin_sets_every_profiles_delta_p2_and_leaves_the_bench_file_as_read() -> None:
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    margins = {name: profile.timing.network_margin for name, profile in config.profiles.items()}

    patient = config.with_network_margin(1.0)

    assert len(margins) >= 2 and all(margin != 1.0 for margin in margins.values())
    assert {name: profile.timing.network_margin for name, profile in patient.profiles.items()} == \
        dict.fromkeys(margins, 1.0)
    assert {name: profile.timing.network_margin for name, profile in config.profiles.items()} == margins
    assert patient.profiles["single-bank"].timing.p2 == config.profiles["single-bank"].timing.p2


# -- bootloader dialects ------------------------------------------------------------------------

HIS_PROFILE = """  his:
    bootloader: his
    flash_spec: his
    memory:
      blocks:
        - {name: application, address: 0x10000, size: 0x30000}
        - {name: calibration, address: 0x80000, size: 0x8000}
"""


def test_every_bootloader_a_profile_may_name_has_a_virtual_dialect() -> None:
    from typing import get_args

    from bench.config.models import EcuProfile
    from bench.sim.dialect import SIM_DIALECTS, dialect_of

    kinds = set(get_args(EcuProfile.model_fields["bootloader"].annotation))
    assert SIM_DIALECTS.builtin == kinds
    assert all(dialect_of(kind).name == kind for kind in kinds)


def test_a_his_profile_loads_with_its_logical_blocks(tmp_path: Path) -> None:
    bench = load_bench(write(tmp_path, edit("profiles:\n", "profiles:\n" + HIS_PROFILE)))
    assert [(b.name, b.address, b.size) for b in bench.profiles["his"].memory.blocks] == [
        ("application", 0x10000, 0x30000), ("calibration", 0x80000, 0x8000)]


def test_a_his_profile_takes_its_logical_blocks_and_version_did_from_its_flash_spec(tmp_path: Path) -> None:
    """Written once, in the spec: an outsider's ECU (README walkthrough) needs no copy in the profile."""
    spec = tmp_path / "orion.yaml"
    spec.write_text("name: orion\nresume: restart_block\nmemory_map:\n"
                    "  - {name: application, address: 0x8004000, size: 0x8000}\n"
                    "  - {name: parameters, address: 0x8070000, size: 0x400}\n"
                    "  - {name: calibration, address: 0x8040000, size: 0x1000}\n"
                    "steps:\n  - {do: logical_blocks, erase: {routine_id: 0xFF00, option_record: [block_index]}}\n"
                    "  - {do: read_did, did: 0xF195, record_as: version_after}\n")
    profile = "  his:\n    bootloader: his\n    flash_spec: orion.yaml\n    memory: {address_bytes: 3}\n"
    loaded = load_bench(write(tmp_path, edit("profiles:\n", "profiles:\n" + profile))).profiles["his"]
    assert [(b.name, b.address, b.size) for b in loaded.memory.blocks] == [
        ("application", 0x8004000, 0x8000), ("calibration", 0x8040000, 0x1000), ("parameters", 0x8070000, 0x400)]
    assert loaded.memory.address_bytes == 3 and loaded.dids.version == 0xF195
    given = profile + "    dids: {version: 0xF189}\n"
    assert load_bench(write(tmp_path, edit("profiles:\n", "profiles:\n" + given))).profiles["his"].dids.version == 0xF189


@pytest.mark.parametrize(("profile", "words"), [
    ("  his:\n    bootloader: his\n    flash_spec: his\n", "a his bootloader needs its logical blocks (name, address, "
                                                       "size): memory.blocks, or the memory_map of its flash_spec"),
    (HIS_PROFILE.replace("0x80000", "0x20000"), "logical block 'calibration' at 0x20000 is not after block "
                                                "'application'"),
    (HIS_PROFILE.replace("bootloader: his\n    flash_spec: his", "bootloader: single_bank"), "memory.blocks are logical blocks of a "
                                                                          "his bootloader, not of a single_bank one"),
])
def test_his_profile_mistakes_name_the_profile(tmp_path: Path, profile: str, words: str) -> None:
    text = edit("profiles:\n", "profiles:\n" + profile)
    message, path = load_error(tmp_path, text)
    lines = range(line_of(text, "  his:"), line_of(text, "ecus:"))          # a line of the his profile
    assert any(f"{path}:{line}: profiles.his" in message for line in lines) and words in message


def test_a_virtual_ecu_of_the_benchs_own_bootloader_needs_its_trusted_key(tmp_path: Path) -> None:
    text = edit(f"      trusted_key: {KEY}\n", "")
    message, path = load_error(tmp_path, text)
    assert "ecus.bcm.virtual" in message and "needs trusted_key" in message
