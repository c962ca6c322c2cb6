"""ISO 14229-1 conformance of the virtual ECU's UDS server, probe by probe: the exact request
bytes and the exact answer (or silence), without a bus.

TransferData and RequestDownload NRCs, the order of the generic checks (figures 5 to 7),
SecurityAccess keys of the wrong length, the fingerprint DID, CommunicationControl's
communicationType, inputs that used to kill the ECU, and the way back from the bootloader.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict

import pytest

from bench.dids import FINGERPRINT_LENGTH
from bench.image.format import VERSION_SIZE
from bench.sim.nvm import Eeprom
from bench.sim.record import BankRecord, BootloaderRecord
from bench.sim.security import SEED_LENGTH
from sim_factory import LEVEL, REGION, SimEcu, erase, h, install, recipe, request_download, transfer
from test_uds_server import key_for

DATA_PER_BLOCK = 0x1000  # the test profile's default maxNumberOfBlockLength 0x1002, minus SID and counter


def downloading(ecu: SimEcu, size: int) -> None:
    """Programming session, unlocked, erased and RequestDownload of ``size`` bytes accepted."""
    ecu.enter_programming()
    assert ecu.send(erase(REGION, size)) == h("71 01 FF 00 00")
    assert ecu.send(request_download(REGION, size))[:1] == h("74")


# -- TransferData (ISO 14229-1, 14.4) ---------------------------------------------------------

def test_transfer_data_after_all_bytes_of_memory_size_is_a_sequence_error(single_bank: SimEcu) -> None:
    downloading(single_bank, 0x100)
    assert single_bank.send(transfer(1, b"\x00" * 0x100)) == h("76 01")
    assert single_bank.send(transfer(2, b"\x00" * 0x10)) == h("7F 36 24")
    assert single_bank.send(transfer(1, b"\x00" * 0x100)) == h("76 01")  # the last block again: its answer was lost


def test_block_longer_than_max_number_of_block_length_is_out_of_range(single_bank: SimEcu) -> None:
    downloading(single_bank, 0x2000)
    assert single_bank.send(transfer(1, b"\x00" * (DATA_PER_BLOCK + 1))) == h("7F 36 31")
    assert single_bank.send(transfer(1, b"\x00" * DATA_PER_BLOCK)) == h("76 01")


def test_bare_counter_repeating_the_last_block_is_malformed(single_bank: SimEcu) -> None:
    downloading(single_bank, 0x2000)
    assert single_bank.send(transfer(1, b"\x00" * DATA_PER_BLOCK)) == h("76 01")
    assert single_bank.send("36 01") == h("7F 36 13")
    assert single_bank.send("36") == h("7F 36 13")
    assert single_bank.send(transfer(2, b"\x00" * DATA_PER_BLOCK)) == h("76 02")


@pytest.mark.parametrize(("volts", "nrc"), [(8.0, "93"), (16.5, "92")])
def test_voltage_is_checked_after_the_sequence_checks(single_bank: SimEcu, volts: float, nrc: str) -> None:
    ecu = single_bank
    ecu.enter_programming()
    ecu.voltage = volts
    assert ecu.send(transfer(1, b"\x00" * 16)) == h("7F 36 24")      # no download: sequence first
    ecu.voltage = 13.5
    downloading(ecu, 0x2000)
    assert ecu.send(transfer(1, b"\x00" * DATA_PER_BLOCK)) == h("76 01")
    ecu.voltage = volts
    assert ecu.send(transfer(1, b"\x00" * DATA_PER_BLOCK)) == h("76 01")  # re-sent: nothing to program
    assert ecu.send(transfer(3, b"\x00" * DATA_PER_BLOCK)) == h("7F 36 73")
    assert ecu.send(transfer(2, b"\x00" * DATA_PER_BLOCK)) == h(f"7F 36 {nrc}")
    ecu.voltage = 13.5
    assert ecu.send(transfer(2, b"\x00" * DATA_PER_BLOCK)) == h("76 02")


# -- addressAndLengthFormatIdentifier (RequestDownload, erase) --------------------------------

@pytest.mark.parametrize(("request_", "response"), [
    ("34 00 00", "7F 34 31"),                                 # both nibbles zero
    ("34 00 04 00 08 00 00", "7F 34 31"),                     # memorySize of zero bytes
    ("34 00 40 00 00 10 00", "7F 34 31"),                     # memoryAddress of zero bytes
    ("34 00 45 00 00 08 00 00 00 00 10 00", "7F 34 31"),      # 5-byte address: wider than the ECU's
    ("34 00 54 00 08 00 00 00 00 00 00 10 00", "7F 34 31"),   # 5-byte size
    ("34 00 44 00 08 00 00 00 00 10", "7F 34 13"),            # valid format, one byte short
    ("34 00 44 00 08 00 00 00 00 10 00 00", "7F 34 13"),      # one byte too many
    ("34 00", "7F 34 13"),
])
def test_request_download_memory_location_format(single_bank: SimEcu, request_: str, response: str) -> None:
    single_bank.enter_programming()
    assert single_bank.send(request_) == h(response)


@pytest.mark.parametrize("request_", ["31 01 FF 01 00", "31 01 02 02 00 00"])
def test_check_routines_take_no_option_record(single_bank: SimEcu, request_: str) -> None:
    single_bank.enter_programming()
    assert single_bank.send(request_) == h("7F 31 13")


@pytest.mark.parametrize(("request_", "response"), [
    ("31 01 FF 00 00", "7F 31 31"),
    ("31 01 FF 00 45 00 00 08 00 00 00 00 10 00", "7F 31 31"),
    ("31 01 FF 00 44 00 08 00 00 00", "7F 31 13"),
    ("31 01 FF 00", "7F 31 13"),
])
def test_erase_memory_location_format(single_bank: SimEcu, request_: str, response: str) -> None:
    single_bank.enter_programming()
    assert single_bank.send(request_) == h(response)
    assert single_bank.record.banks[0].valid  # nothing was erased


# -- order of the generic checks (ISO 14229-1, 7.5, figures 5 to 7) ---------------------------

@pytest.mark.parametrize(("request_", "response"), [
    ("34", "7F 34 33"),                                       # secured as a whole: 0x33 before length
    ("34 00 00", "7F 34 33"),
    ("36", "7F 36 33"),
    ("36 01", "7F 36 33"),
    ("37 00", "7F 37 33"),
    ("27 12", "7F 27 24"),                                    # sendKey without a seed: sequence
    ("27 12 00 00 00 00", "7F 27 24"),
    ("27 13 00", "7F 27 12"),                                 # sub-function before length
    ("27", "7F 27 13"),                                       # minimum length first of all
    ("31 01 FF 00", "7F 31 33"),                              # a secured routine: 0x33 before its record
])
def test_generic_checks_in_iso_order_while_locked(single_bank: SimEcu, request_: str, response: str) -> None:
    single_bank.enter_programming(unlock=False)
    assert single_bank.send(request_) == h(response)


def test_sub_function_not_in_this_session_comes_before_the_length_check(single_bank: SimEcu) -> None:
    assert single_bank.send("10 02 00") == h("7F 10 7E")    # programming only from extended
    assert single_bank.send("10 03 00") == h("7F 10 13")


def test_key_of_the_wrong_length_is_malformed_and_no_false_attempt(single_bank: SimEcu) -> None:
    ecu = single_bank
    ecu.send("10 03")
    seed = ecu.send(f"27 {LEVEL:02X}")
    assert ecu.send("27 12 00") == h("7F 27 13")
    assert ecu.send("27 12 00 00 00 00 00") == h("7F 27 13")
    assert ecu.record.security_failures == 0
    assert ecu.send(key_for(seed)) == h("67 12")              # the seed is still good
    assert len(seed) == 2 + SEED_LENGTH


# -- DIDs ------------------------------------------------------------------------------------

def test_fingerprint_never_written_reads_as_a_record_of_its_length(single_bank: SimEcu) -> None:
    assert single_bank.send("22 F1 5A") == h("62 F1 5A") + bytes(FINGERPRINT_LENGTH)


@pytest.mark.parametrize("length", [FINGERPRINT_LENGTH - 1, FINGERPRINT_LENGTH + 1, 1859, 4000])
def test_fingerprint_of_another_length_is_refused_and_the_ecu_still_flashes(single_bank: SimEcu, length: int) -> None:
    ecu = single_bank
    ecu.enter_programming()
    assert ecu.send(h("2E F1 5A") + b"\x5a" * length) == h("7F 2E 13")
    ecu.send("10 01")
    ecu.power_on()
    assert install(ecu, recipe("app-2.0.0")) == h("71 01 FF 01 00")


def test_the_eeprom_slot_holds_the_largest_record_the_ecu_accepts(tmp_path) -> None:
    longest = "9" * VERSION_SIZE
    record = BootloaderRecord(
        banks=[BankRecord(True, longest, 2**32 - 1) for _ in range(2)], active_bank=1, pending_bank=1,
        boot_attempts=2**32 - 1, anti_rollback=2**32 - 1, journal_digest="f" * 64, journal_total=2**32 - 1,
        journal_committed=2**32 - 1, journal_area="staging", security_failures=2**32 - 1,
        fingerprint="ff" * FINGERPRINT_LENGTH, patch_type="sequential", patch_bank=1, patch_package="f" * 64,
        patch_steps_done=2**32 - 1)
    eeprom = Eeprom(tmp_path / "ecu.eeprom", power_lost=threading.Event())
    eeprom.store(asdict(record))
    assert Eeprom(tmp_path / "ecu.eeprom", power_lost=threading.Event()).load() == json.loads(
        json.dumps(asdict(record)))


def test_a_handler_bug_answers_general_reject_and_the_ecu_lives_on(single_bank: SimEcu, monkeypatch) -> None:
    def broken(did: int) -> bytes:
        raise ValueError("simulated bug")

    monkeypatch.setattr(single_bank.core, "_did_value", broken)
    assert single_bank.send("22 F1 89") == h("7F 22 10")
    assert single_bank.send("3E 00") == h("7E 00")


# -- CommunicationControl (ISO 14229-1, 9.5, B.1) ----------------------------------------------

@pytest.mark.parametrize(("request_", "response"), [
    ("28 00 00", "7F 28 31"),     # communicationType 0: reserved
    ("28 03 FC", "7F 28 31"),     # bits 0-1 zero, bits 2-3 set: reserved
    ("28 01 05", "7F 28 31"),     # bit 2 reserved
    ("28 01 21", "7F 28 31"),     # subnet 2: the ECU has no such subnet
    ("28 03 01", "68 03"),
    ("28 01 02", "68 01"),
    ("28 00 03", "68 00"),
    ("28 03 F1", "68 03"),        # subnet 0xF: the network this request came on
])
def test_communication_type(single_bank: SimEcu, request_: str, response: str) -> None:
    single_bank.send("10 03")
    assert single_bank.send(request_) == h(response)


# -- from the bootloader back to the application ----------------------------------------------

@pytest.mark.parametrize("back_to_default", ["10 01", "s3"])
def test_default_session_from_the_bootloader_starts_the_application(single_bank: SimEcu,
                                                                    back_to_default: str) -> None:
    ecu = single_bank
    for request_ in ("10 03", "10 02", "10 03"):
        assert ecu.send(request_)[:2] == bytes([0x50, h(request_)[1]])
    assert ecu.send("22 FD 02") == h("62 FD 02 01 00 01 00")  # bootloader
    if back_to_default == "s3":
        ecu.clock.advance(10.0)
        assert ecu.core.s3_expired() and ecu.core.leave_session() is True
    else:
        assert ecu.core.handle(h("10 01")).reset_after is True
    ecu.power_on()                                             # the reset the server asked for
    assert ecu.send("22 FD 02") == h("62 FD 02 00 00 00 00")  # the application runs
    assert ecu.send("22 F1 89") == h("62 F1 89") + b"1.0.0"


def test_a_bootloader_without_application_stays_after_a_reset(make_ecu) -> None:
    empty = make_ecu("single_bank", factory_image=None)
    assert empty.send("10 03")[:2] == h("50 03")
    assert empty.core.handle(h("10 01")).reset_after is True
    empty.power_on()
    assert empty.send("22 FD 02") == h("62 FD 02 01 00 01 00")

