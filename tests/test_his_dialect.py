"""The HIS-style bootloader of the virtual bench (``bench.sim.dialects.his``), request by request
with the exact bytes, without a bus: sessions, preconditions, fingerprint before erase, erase by
logical block, plain and zlib downloads, the CRC-32 check, out-of-order requests, the check of
programming dependencies, a power cut in every step of every logical block followed by the
restart of the interrupted block, and an ECU that stays in its bootloader until its application
is complete. The same checks catch each mutant of the dialect (``bench.sim.dialects.his.mutants``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.dids import BootMode
from bench.sim.nvm import PowerLost
from his_sim import (APP, CAL, FINGERPRINT, SECTOR, HisSim, check_crc, download_block, erase, location, program,
                     software)
from sim_factory import h

OLD, NEW = "1.0.0", "2.0.0"


@pytest.fixture
def eps(tmp_path: Path) -> HisSim:
    ecu = HisSim(tmp_path)
    yield ecu
    ecu.close()


def running(ecu: HisSim) -> BootMode:
    return ecu.boot.running.mode


# -- identification, sessions, preconditions ---------------------------------------------------

def test_factory_ecu_runs_the_version_its_hex_carries(eps: HisSim) -> None:
    assert running(eps) == BootMode.APPLICATION
    assert eps.send("22 F1 95") == h("62 F1 95") + b"1.0.0"
    assert eps.send("22 F1 80") == h("62 F1 80") + b"EPS-BOOTLOADER_VERSION"
    assert eps.send("22 F1 91") == h("62 F1 91") + b"EPS-HARDWARE_NUMBER"
    assert eps.send("22 F1 5A") == h("62 F1 5A") + bytes(9)       # never written: zeros
    assert eps.send("22 FD 01") == h("7F 22 31")                  # no bench journal in this dialect
    assert eps.send("22 FD 03") == h("7F 22 31")
    assert eps.nvm_problems() == []


def test_programming_session_only_from_extended(eps: HisSim) -> None:
    assert eps.send("10 02") == h("7F 10 7E")
    assert eps.send("10 03")[:2] == h("50 03")
    assert eps.send("10 02")[:2] == h("50 02")
    assert running(eps) == BootMode.BOOTLOADER


def test_check_programming_preconditions(eps: HisSim) -> None:
    assert eps.send("31 01 02 03") == h("7F 31 7F")               # RoutineControl: not in default
    assert eps.send("10 03")[:2] == h("50 03")
    assert eps.send("31 01 02 03") == h("71 01 02 03 00")
    assert eps.send("31 01 02 03 00") == h("7F 31 13")            # no option record
    eps.voltage = 8.0
    assert eps.send("31 01 02 03") == h("71 01 02 03 01")         # reason 0x01: supply outside the window


# -- fingerprint before erase ------------------------------------------------------------------

def test_erase_without_fingerprint_is_refused(eps: HisSim) -> None:
    eps.enter_programming(fingerprint=False)
    assert eps.send(erase(APP)) == h("7F 31 22")
    assert eps.send(h("2E F1 5A") + FINGERPRINT[:8]) == h("7F 2E 13")
    assert eps.send(h("2E F1 5A") + FINGERPRINT) == h("6E F1 5A")
    assert eps.send("22 F1 5A") == h("62 F1 5A") + FINGERPRINT
    assert eps.send(erase(APP)) == h("71 01 FF 00 00")
    assert running(eps) == BootMode.BOOTLOADER and eps.store.record.application_valid is False


def test_fingerprint_needs_security_access(eps: HisSim) -> None:
    assert eps.send("10 03")[:2] == h("50 03")
    assert eps.send("10 02")[:2] == h("50 02")
    assert eps.send(h("2E F1 5A") + FINGERPRINT) == h("7F 2E 33")


def test_a_fingerprint_does_not_outlive_a_reset(eps: HisSim) -> None:
    eps.enter_programming()
    assert eps.send("11 01") == h("51 01")
    eps.power_on()
    eps.enter_programming(fingerprint=False)
    assert eps.send(erase(APP)) == h("7F 31 22")


# -- erase, download, CRC ----------------------------------------------------------------------

def check_full_update(ecu: HisSim, *, compress: bool = False) -> None:
    program(ecu, NEW, compress=compress)
    assert ecu.send("11 01") == h("51 01")
    ecu.power_on()
    assert ecu.version() == h("62 F1 95") + NEW.encode()
    assert running(ecu) == BootMode.APPLICATION
    assert ecu.nvm_problems() == []


def test_full_update_plain(eps: HisSim) -> None:
    check_full_update(eps)


def test_full_update_compressed_is_decoded_on_the_ecu(eps: HisSim) -> None:
    check_full_update(eps, compress=True)
    for (address, data), index in zip(software(NEW), range(2)):
        assert eps.download.crc_of(index, address, len(data)) == zlib.crc32(data)


def test_compressed_data_that_decode_past_memory_size_are_refused(eps: HisSim) -> None:
    eps.enter_programming()
    _, data = software(NEW)[1]
    assert eps.send(erase(CAL)) == h("71 01 FF 00 00")
    assert eps.send(h("34 10") + location(CAL.address, 0x100)) == h("74 20 10 02")
    assert eps.send(h("36 01") + zlib.compress(data[:0x800])) == h("7F 36 71")


def test_garbage_in_a_compressed_download_is_out_of_range(eps: HisSim) -> None:
    eps.enter_programming()
    assert eps.send(erase(CAL)) == h("71 01 FF 00 00")
    assert eps.send(h("34 10") + location(CAL.address, 0x100)) == h("74 20 10 02")
    assert eps.send(h("36 01") + b"not a zlib stream") == h("7F 36 31")


def test_unknown_data_format_and_addresses_outside_the_blocks(eps: HisSim) -> None:
    eps.enter_programming()
    assert eps.send(h("31 01 FF 00") + location(0x00040000, 0x1000)) == h("7F 31 31")   # between the blocks
    assert eps.send(h("31 01 FF 00") + location(CAL.address - 0x1000, 0x2000)) == h("7F 31 31")  # across
    assert eps.send(erase(CAL)) == h("71 01 FF 00 00")
    assert eps.send(h("34 20") + location(CAL.address, 0x100)) == h("7F 34 31")            # encryption
    assert eps.send(h("34 11") + location(CAL.address, 0x100)) == h("7F 34 31")


def check_crc_is_checked(ecu: HisSim) -> None:
    ecu.enter_programming()
    address, data = software(NEW)[1]
    assert ecu.send(erase(CAL)) == h("71 01 FF 00 00")
    download_block(ecu, address, data)
    assert ecu.send(check_crc(zlib.crc32(data) ^ 1)) == h("71 01 02 02 01")
    assert ecu.store.record.blocks[1].valid is False
    assert ecu.send("31 01 FF 01") == h("71 01 FF 01 01")
    assert ecu.send("11 01") == h("51 01")
    ecu.power_on()
    assert running(ecu) == BootMode.BOOTLOADER                     # never starts an incomplete application
    assert ecu.version() == h("7F 22 22")
    assert ecu.nvm_problems() == []


def test_crc_incorrect_leaves_the_block_invalid(eps: HisSim) -> None:
    check_crc_is_checked(eps)


def test_crc_check_without_a_complete_download_is_a_sequence_error(eps: HisSim) -> None:
    eps.enter_programming()
    assert eps.send(check_crc(0)) == h("7F 31 24")
    assert eps.send(erase(CAL)) == h("71 01 FF 00 00")
    assert eps.send(h("34 00") + location(CAL.address, 0x200)) == h("74 20 10 02")
    assert eps.send(h("36 01") + bytes(0x100)) == h("76 01")
    assert eps.send("37") == h("7F 37 24")                         # half of memorySize
    assert eps.send(check_crc(0)) == h("7F 31 24")
    assert eps.send("31 01 02 02 00 00") == h("7F 31 13")          # the CRC is 4 bytes


def check_blocks_in_order(ecu: HisSim) -> None:
    ecu.enter_programming()
    address, data = software(NEW)[1]
    assert ecu.send(h("34 00") + location(address, len(data))) == h("7F 34 70")   # no erase of block 1
    assert ecu.send(erase(APP)) == h("71 01 FF 00 00")
    assert ecu.send(h("34 00") + location(address, len(data))) == h("7F 34 70")   # block 0 erased, not 1
    assert ecu.send(erase(CAL)) == h("71 01 FF 00 00")
    download_block(ecu, address, data)
    assert ecu.send(h("34 00") + location(address, len(data))) == h("7F 34 70")   # one download per erase


def test_a_block_is_downloaded_only_after_its_erase(eps: HisSim) -> None:
    check_blocks_in_order(eps)


def test_dependencies_fail_when_calibration_belongs_to_another_version(eps: HisSim) -> None:
    eps.enter_programming()
    address, data = software(NEW)[0]
    assert eps.send(erase(APP)) == h("71 01 FF 00 00")
    download_block(eps, address, data)
    assert eps.send(check_crc(zlib.crc32(data))) == h("71 01 02 02 00")
    assert eps.send("31 01 FF 01") == h("71 01 FF 01 01")          # calibration still names 1.0.0
    assert eps.send("11 01") == h("51 01")
    eps.power_on()
    assert running(eps) == BootMode.BOOTLOADER and eps.version() == h("7F 22 22")


def test_an_empty_ecu_waits_in_its_bootloader_and_takes_software(tmp_path: Path) -> None:
    ecu = HisSim(tmp_path, factory=None)
    assert running(ecu) == BootMode.BOOTLOADER
    assert ecu.send("3E 00") == h("7E 00")
    check_full_update(ecu)


# -- a power cut in every step of every logical block --------------------------------------------

def sequence(ecu: HisSim) -> list[tuple[str, int | None, bytes, bytes]]:
    """Every request of the HIS update to NEW: (step, logical block or None, request, answer)."""
    level = ecu.profile.security.level
    steps: list[tuple[str, int | None, bytes, bytes]] = [
        ("session", None, h("10 03"), h("50 03 00 19 00 C8")),
        ("preconditions", None, h("31 01 02 03"), h("71 01 02 03 00")),
        ("session", None, h("10 02"), h("50 02 00 19 00 C8")),
        ("security", None, bytes([0x27, level]), b""),
        ("fingerprint", None, h("2E F1 5A") + FINGERPRINT, h("6E F1 5A")),
    ]
    for index, ((address, data), block) in enumerate(zip(software(NEW), ecu.profile.memory.blocks)):
        steps.append(("erase", index, erase(block), h("71 01 FF 00 00")))
        steps.append(("request_download", index, h("34 00") + location(address, len(data)), h("74 20 10 02")))
        for counter, start in enumerate(range(0, len(data), 0x1000), start=1):
            steps.append(("transfer_data", index, bytes([0x36, counter]) + data[start:start + 0x1000],
                          bytes([0x76, counter])))
        steps.append(("transfer_exit", index, h("37"), h("77")))
        steps.append(("check_crc", index, check_crc(zlib.crc32(data)), h("71 01 02 02 00")))
    steps.append(("dependencies", None, h("31 01 FF 01"), h("71 01 FF 01 00")))
    steps.append(("reset", None, h("11 01"), h("51 01")))
    return steps


def run(ecu: HisSim, steps: list[tuple[str, int | None, bytes, bytes]]) -> None:
    for name, _block, request, answer in steps:
        if name == "security":
            ecu.unlock()
            continue
        assert ecu.send(request) == answer, name


CUTS = [("session", None), ("security", None), ("fingerprint", None), ("dependencies", None), ("reset", None)] + [
    (step, block) for block in (0, 1)
    for step in ("erase", "request_download", "transfer_data", "transfer_exit", "check_crc")]


def cut_in(ecu: HisSim, step: str, block: int | None) -> None:
    """Power cut while the ECU works on ``step`` of ``block``: in the middle of the flash operation
    where the step has one (an erase's second sector, a block's fifth page), else before its request."""
    steps = sequence(ecu)
    k = next(i for i, (name, b, _, _) in enumerate(steps) if name == step and b == block)
    run(ecu, steps[:k])
    name, _, request, _ = steps[k]
    if name in ("erase", "transfer_data"):
        point = "erase_sector_half" if name == "erase" else "program_page_half"
        first = ecu.layout.offsets[block] // (SECTOR if name == "erase" else 256)
        ecu.on_probe = lambda p, index: p == point and index == first + (1 if name == "erase" else 4) \
            and ecu.cut_power()
        with pytest.raises(PowerLost):
            ecu.send(request)
        ecu.on_probe = None
    ecu.power_on()


def check_power_cut_then_restart_of_the_interrupted_block(ecu: HisSim, step: str, block: int | None) -> None:
    cut_in(ecu, step, block)
    assert ecu.send("3E 00") == h("7E 00")                          # never bricked
    version = ecu.version()
    blocks_cut = block is not None or step in ("dependencies", "reset")
    if not blocks_cut:                                              # nothing erased yet: the old application
        assert version == h("62 F1 95") + OLD.encode()
    elif step == "reset":                                           # dependencies passed: the new one
        assert version == h("62 F1 95") + NEW.encode()
    else:                                                           # neither whole: the bootloader, reprogrammable
        assert version == h("7F 22 22") and running(ecu) == BootMode.BOOTLOADER
    assert ecu.nvm_problems() == []
    valid_before = [record.valid for record in ecu.store.record.blocks]
    if block is not None:
        assert valid_before[block] is False
    if step == "reset":
        return
    # resume: restart the interrupted block and go on with the ones after it; those before it stay valid
    first = block if block is not None else (2 if step == "dependencies" else 0)
    assert valid_before[:first] == [True] * first
    ecu.enter_programming()
    for address, data in software(NEW)[first:]:
        logical = ecu.profile.memory.blocks[ecu.layout.block_of(address, len(data))]
        assert ecu.send(erase(logical)) == h("71 01 FF 00 00")
        download_block(ecu, address, data)
        assert ecu.send(check_crc(zlib.crc32(data))) == h("71 01 02 02 00")
    assert ecu.send("31 01 FF 01") == h("71 01 FF 01 00")
    assert ecu.send("11 01") == h("51 01")
    ecu.power_on()
    assert ecu.version() == h("62 F1 95") + NEW.encode()
    assert ecu.nvm_problems() == []


@pytest.mark.parametrize(("step", "block"), CUTS, ids=[f"{s}-{b}" if b is not None else s for s, b in CUTS])
def test_power_cut_then_restart_of_the_interrupted_block(eps: HisSim, step: str, block: int | None) -> None:
    check_power_cut_then_restart_of_the_interrupted_block(eps, step, block)


# -- the mutants of the dialect are caught -------------------------------------------------------

MUTANT_CHECKS: dict[str, Callable[[HisSim], None]] = {
    "his_crc_not_checked": check_crc_is_checked,
    "his_erases_wrong_block": check_full_update,
    "his_download_before_erase": check_blocks_in_order,
    "his_keeps_valid_on_erase":
        lambda ecu: check_power_cut_then_restart_of_the_interrupted_block(ecu, "transfer_data", 1),
}


@pytest.mark.parametrize("mutant", sorted(MUTANT_CHECKS))
def test_each_mutant_fails_a_check_the_reference_passes(tmp_path: Path, mutant: str) -> None:
    check = MUTANT_CHECKS[mutant]
    reference = HisSim(tmp_path / "reference")
    check(reference)
    broken = HisSim(tmp_path / "mutant", mutant=mutant)
    with pytest.raises(AssertionError):
        check(broken)
