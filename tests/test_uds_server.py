"""The virtual ECU's UDS server (ISO 14229-1): requests in, responses out, no bus.

Sessions, negative response codes and their order, functional addressing, DIDs, security
access with its persisted false-attempt counter and lockout, reset, S3.
"""

from __future__ import annotations

import pytest

from bench.keys import xor_key
from sim_factory import LEVEL, LOCKOUT, S3, SECRET, SimEcu, h

P2_P2STAR = "00 32 00 C8"  # P2 50 ms (1 ms units), P2* 2 s (10 ms units) from the test profile
WRONG_KEY = "27 12 00 00 00 00"


def key_for(seed_response: bytes) -> bytes:
    assert seed_response[:2] == bytes([0x67, LEVEL]), seed_response
    return bytes([0x27, LEVEL + 1]) + xor_key(LEVEL, seed_response[2:], {"secret": SECRET})


def wrong_key_for(seed_response: bytes) -> bytes:
    right = key_for(seed_response)
    return right[:-1] + bytes([right[-1] ^ 0x01])


# -- DiagnosticSessionControl ------------------------------------------------------------------

@pytest.mark.parametrize("session", ["01", "03"])
def test_session_control_answers_with_p2_and_p2_star(single_bank: SimEcu, session: str) -> None:
    assert single_bank.send(f"10 {session}") == h(f"50 {session} {P2_P2STAR}")
    assert single_bank.core.session == int(session, 16)


def test_programming_session_from_extended_enters_the_bootloader(single_bank: SimEcu) -> None:
    single_bank.send("10 03")
    assert single_bank.send("10 02") == h(f"50 02 {P2_P2STAR}")
    assert single_bank.send("22 FD 02") == h("62 FD 02 01 00 01 00")  # bootloader, bank A


def test_programming_session_from_default_in_the_application_is_refused(single_bank: SimEcu) -> None:
    assert single_bank.send("10 02") == h("7F 10 7E")
    assert single_bank.core.session == 0x01
    assert single_bank.send("22 FD 02") == h("62 FD 02 00 00 00 00")  # still the application


def test_programming_session_from_default_in_the_bootloader_is_accepted(make_ecu) -> None:
    empty = make_ecu("single_bank", factory_image=None)
    assert empty.send("10 02") == h(f"50 02 {P2_P2STAR}")


def test_leaving_the_programming_session_resets_the_ecu(single_bank: SimEcu) -> None:
    single_bank.send("10 03")
    assert single_bank.core.handle(h("10 03")).reset_after is False
    single_bank.send("10 02")
    reply = single_bank.core.handle(h("10 01"))
    assert reply.response == h(f"50 01 {P2_P2STAR}")
    assert reply.reset_after is True


def test_suppressed_positive_response_still_changes_the_session(single_bank: SimEcu) -> None:
    assert single_bank.send("10 83") is None
    assert single_bank.core.session == 0x03


# -- generic negative responses and their order ----------------------------------------------

@pytest.mark.parametrize(("request_", "response"), [
    ("BA 01", "7F BA 11"),                 # no such service
    ("50 01", "7F 50 11"),                 # a response SID is not a request
    ("27 11", "7F 27 7F"),                 # SecurityAccess: not in the default session
    ("34 00 44 00 08 00 00 00 00 10 00", "7F 34 7F"),  # RequestDownload: programming only
    ("36 01 00", "7F 36 7F"),
    ("37", "7F 37 7F"),
    ("31 01 FF 00", "7F 31 7F"),
    ("2E F1 5A 01", "7F 2E 7F"),
    ("10 04", "7F 10 12"),                 # no such session
    ("11 05", "7F 11 12"),                 # no such reset type
    ("3E 01", "7F 3E 12"),
    ("10", "7F 10 13"),                    # no sub-function at all
    ("10 03 00", "7F 10 13"),              # one byte too many
    ("3E 00 00", "7F 3E 13"),
    ("11 01 00", "7F 11 13"),
])
def test_negative_responses(single_bank: SimEcu, request_: str, response: str) -> None:
    assert single_bank.send(request_) == h(response)


def test_service_not_in_session_is_checked_before_length(single_bank: SimEcu) -> None:
    assert single_bank.send("34") == h("7F 34 7F")


def test_sub_function_is_checked_before_length(single_bank: SimEcu) -> None:
    assert single_bank.send("10 05 00") == h("7F 10 12")


@pytest.mark.parametrize(("request_", "physical_nrc"), [
    ("BA 01", 0x11),        # serviceNotSupported
    ("3E 05", 0x12),        # subFunctionNotSupported
    ("22 12 34", 0x31),     # requestOutOfRange
    ("10 02", 0x7E),        # subFunctionNotSupportedInActiveSession
    ("27 11", 0x7F),        # serviceNotSupportedInActiveSession
])
def test_functional_requests_get_no_such_negative_response(single_bank: SimEcu, request_: str,
                                                           physical_nrc: int) -> None:
    assert single_bank.send(request_, functional=True) is None
    assert single_bank.send(request_) == bytes([0x7F, h(request_)[0], physical_nrc])


def test_functional_requests_get_other_negative_responses(make_ecu) -> None:
    empty = make_ecu("single_bank", factory_image=None)
    assert empty.send("3E 00 00", functional=True) == h("7F 3E 13")
    assert empty.send("22 F1 89", functional=True) == h("7F 22 22")  # no application: conditions


def test_functional_request_gets_its_positive_response(single_bank: SimEcu) -> None:
    assert single_bank.send("3E 00", functional=True) == h("7E 00")


# -- TesterPresent ----------------------------------------------------------------------------

def test_tester_present(single_bank: SimEcu) -> None:
    assert single_bank.send("3E 00") == h("7E 00")
    assert single_bank.send("3E 80") is None
    assert single_bank.send("3E 80", functional=True) is None


# -- ReadDataByIdentifier / WriteDataByIdentifier ---------------------------------------------

def test_read_version(single_bank: SimEcu) -> None:
    assert single_bank.send("22 F1 89") == h("62 F1 89") + b"1.0.0"


def test_read_several_dids_in_one_request(single_bank: SimEcu) -> None:
    assert single_bank.send("22 F1 89 F1 87 FD 02") == (
        h("62 F1 89") + b"1.0.0" + h("F1 87") + b"BCM-PART_NUMBER" + h("FD 02 00 00 00 00"))


def test_read_unknown_did(single_bank: SimEcu) -> None:
    assert single_bank.send("22 12 34") == h("7F 22 31")


@pytest.mark.parametrize("request_", ["22", "22 F1", "22 F1 89 F1"])
def test_read_did_with_odd_length(single_bank: SimEcu, request_: str) -> None:
    assert single_bank.send(request_) == h("7F 22 13")


def test_read_supported_and_unsupported_did_together(single_bank: SimEcu) -> None:
    assert single_bank.send("22 F1 89 12 34") == h("62 F1 89") + b"1.0.0"


def test_write_fingerprint_needs_programming_session_and_unlock(single_bank: SimEcu) -> None:
    assert single_bank.send("2E F1 5A 0A 0B") == h("7F 2E 7F")   # default: service not in session
    single_bank.send("10 03")
    assert single_bank.send("2E F1 5A 0A 0B") == h("7F 2E 31")   # extended: not writable here
    single_bank.send("10 02")
    assert single_bank.send("2E F1 5A 0A 0B") == h("7F 2E 33")   # programming, locked
    single_bank.unlock()
    assert single_bank.send("2E F1 5A") == h("7F 2E 13")         # no data record
    assert single_bank.send("2E F1 89 0A 0B") == h("7F 2E 31")   # version is not writable
    assert single_bank.send("2E F1 5A 0A 0B") == h("7F 2E 13")   # the DID holds 13 bytes
    fingerprint = bytes(range(1, 14))
    assert single_bank.send(h("2E F1 5A") + fingerprint) == h("6E F1 5A")
    assert single_bank.send("22 F1 5A") == h("62 F1 5A") + fingerprint
    assert single_bank.record.fingerprint == fingerprint.hex()    # in EEPROM, not only in RAM


# -- SecurityAccess ---------------------------------------------------------------------------

def test_seed_then_right_key_unlocks(single_bank: SimEcu) -> None:
    single_bank.send("10 03")
    seed = single_bank.send("27 11")
    assert len(seed) == 6 and seed[2:] != bytes(4)
    assert single_bank.send(key_for(seed)) == h("67 12")
    assert single_bank.send("27 11") == h("67 11 00 00 00 00")   # unlocked: zero seed


def test_send_key_without_seed(single_bank: SimEcu) -> None:
    single_bank.send("10 03")
    assert single_bank.send(WRONG_KEY) == h("7F 27 24")


def test_a_seed_is_good_for_one_key_only(single_bank: SimEcu) -> None:
    single_bank.send("10 03")
    seed = single_bank.send("27 11")
    assert single_bank.send(wrong_key_for(seed)) == h("7F 27 35")
    assert single_bank.send(key_for(seed)) == h("7F 27 24")


def test_unknown_security_level(single_bank: SimEcu) -> None:
    single_bank.send("10 03")
    assert single_bank.send("27 13") == h("7F 27 12")


def test_request_seed_with_data(single_bank: SimEcu) -> None:
    single_bank.send("10 03")
    assert single_bank.send("27 11 00") == h("7F 27 13")


def fail_attempt(ecu: SimEcu) -> bytes | None:
    seed = ecu.send("27 11")
    assert seed[:2] == h("67 11"), seed
    return ecu.send(wrong_key_for(seed))


def test_wrong_keys_lock_security_access_until_the_delay_passes(single_bank: SimEcu) -> None:
    ecu = single_bank
    ecu.send("10 03")
    assert fail_attempt(ecu) == h("7F 27 35")
    assert fail_attempt(ecu) == h("7F 27 35")
    assert fail_attempt(ecu) == h("7F 27 36")
    assert ecu.send("27 11") == h("7F 27 37")
    ecu.clock.advance(LOCKOUT - 0.5)
    assert ecu.send("27 11") == h("7F 27 37")
    ecu.clock.advance(1.0)
    assert fail_attempt(ecu) == h("7F 27 36")      # one more attempt, then locked again
    assert ecu.send("27 11") == h("7F 27 37")
    ecu.clock.advance(LOCKOUT + 0.5)
    ecu.unlock()
    assert ecu.record.security_failures == 0


def test_false_attempts_survive_a_power_cycle(single_bank: SimEcu) -> None:
    ecu = single_bank
    ecu.send("10 03")
    fail_attempt(ecu)
    fail_attempt(ecu)
    ecu.power_on()
    ecu.send("10 03")
    assert fail_attempt(ecu) == h("7F 27 36")


def test_lockout_restarts_at_power_on(single_bank: SimEcu) -> None:
    ecu = single_bank
    ecu.send("10 03")
    for _ in range(3):
        fail_attempt(ecu)
    ecu.clock.advance(LOCKOUT + 0.5)               # the delay passes while the ECU is powered ...
    ecu.power_on()                                 # ... but a power cycle starts it again
    ecu.send("10 03")
    assert ecu.send("27 11") == h("7F 27 37")
    ecu.clock.advance(LOCKOUT + 0.5)
    ecu.unlock()


def test_session_change_relocks(single_bank: SimEcu) -> None:
    single_bank.send("10 03")
    single_bank.unlock()
    single_bank.send("10 02")
    assert single_bank.send("2E F1 5A 0A") == h("7F 2E 33")
    assert single_bank.send("27 11")[2:] != bytes(4)


# -- ECUReset, CommunicationControl, ControlDTCSetting -----------------------------------------

def test_ecu_reset_answers_then_resets(single_bank: SimEcu) -> None:
    reply = single_bank.core.handle(h("11 01"))
    assert reply.response == h("51 01") and reply.reset_after is True
    suppressed = single_bank.core.handle(h("11 81"))
    assert suppressed.response is None and suppressed.reset_after is True


def test_ordinary_requests_do_not_reset(single_bank: SimEcu) -> None:
    assert single_bank.core.handle(h("3E 00")).reset_after is False
    assert single_bank.core.handle(h("11 05")).reset_after is False  # refused reset


def test_communication_control_and_dtc_setting_in_extended_session(single_bank: SimEcu) -> None:
    ecu = single_bank
    assert ecu.send("28 01 01") == h("7F 28 7F")
    assert ecu.send("85 02") == h("7F 85 7F")
    ecu.send("10 03")
    assert ecu.send("28 01 01") == h("68 01")
    assert ecu.core.communication_control == (0x01, 0x01)
    assert ecu.send("85 02") == h("C5 02")
    assert ecu.core.dtc_setting_on is False
    assert ecu.send("85 01") == h("C5 01")
    assert ecu.core.dtc_setting_on is True
    assert ecu.send("28 05 01") == h("7F 28 12")
    assert ecu.send("28 01") == h("7F 28 13")
    assert ecu.send("85 03") == h("7F 85 12")


# -- S3 -----------------------------------------------------------------------------------------

def test_default_session_never_times_out(single_bank: SimEcu) -> None:
    single_bank.clock.advance(10 * S3)
    assert not single_bank.core.s3_expired()


def test_s3_expires_without_requests(single_bank: SimEcu) -> None:
    ecu = single_bank
    ecu.send("10 03")
    ecu.clock.advance(S3 - 0.1)
    assert not ecu.core.s3_expired()
    ecu.send("3E 80", functional=True)             # suppressed TesterPresent keeps the session
    ecu.clock.advance(S3 - 0.1)
    assert not ecu.core.s3_expired()
    ecu.clock.advance(0.2)
    assert ecu.core.s3_expired()
    assert ecu.core.leave_session() is False       # the application just drops to default
    assert ecu.core.session == 0x01
    assert not ecu.core.s3_expired()


def test_s3_in_the_bootloader_programming_session_means_reset(single_bank: SimEcu) -> None:
    ecu = single_bank
    ecu.enter_programming()
    ecu.clock.advance(S3 + 0.1)
    assert ecu.core.s3_expired()
    assert ecu.core.leave_session() is True
    assert ecu.core.session == 0x01
    assert ecu.send("2E F1 5A 0A") == h("7F 2E 7F")


@pytest.mark.parametrize("back_to_default", ["request", "s3"])
def test_default_session_restores_communication_and_dtc_setting(single_bank: SimEcu, back_to_default: str) -> None:
    ecu = single_bank
    ecu.send("10 03")
    ecu.send("28 01 01")
    ecu.send("85 02")
    if back_to_default == "request":
        ecu.send("10 01")
    else:
        ecu.clock.advance(S3 + 0.1)
        ecu.core.leave_session()
    assert (ecu.core.communication_control, ecu.core.dtc_setting_on) == ((0x00, 0x00), True)
