"""The A/B bootloader's bank switch: after a confirmed update the previous bank stays a fallback
the tester may switch back to (routine switch_bank 0x0210, then a reset) until it commits the
update (commit_bank 0x0211); refused with 0x22 when there is nothing valid to go back to."""

from __future__ import annotations

from bench.cli.sim_activity import SimActivity
from bench.config.models import DeltaSupport
from bench.monitor.events import UdsEvent
from sim_factory import REGION, SimEcu, erase, h, install, make_profile, recipe
from test_delta_ecu import STAGE, STAGE_SIZE, arm, package

SWITCH = "31 01 02 10"
COMMIT = "31 01 02 11"
CONFIRMED_A = h("62 FD 02 00 00 03 00")
CONFIRMED_B = h("62 FD 02 00 01 03 00")


def updated(ecu: SimEcu, name: str) -> SimEcu:
    """``ecu`` after a confirmed update to the recipe ``name`` (bank B runs it, bank A is the fallback)."""
    assert install(ecu, recipe(name)) == h("71 01 FF 01 00")
    ecu.power_on()
    assert ecu.send("22 FD 02") == CONFIRMED_B
    return ecu


def extended_unlocked(ecu: SimEcu) -> None:
    assert ecu.send("10 03")[:2] == h("50 03")
    ecu.unlock()


def test_switch_back_starts_the_previous_bank_after_the_reset(ab: SimEcu) -> None:
    ecu = updated(ab, "app-1.1.0")
    extended_unlocked(ecu)
    assert ecu.send(SWITCH) == h("71 01 02 10 00")
    assert ecu.send("22 F1 89") == h("62 F1 89") + b"1.1.0"     # the switch takes effect at the reset
    ecu.power_on()
    assert ecu.send("22 FD 02") == CONFIRMED_A
    assert ecu.send("22 F1 89") == h("62 F1 89") + b"1.0.0"
    record = ecu.record
    assert (record.active_bank, record.fallback_bank, record.banks[1].valid) == (0, None, False)


def test_switch_back_is_refused_after_commit(ab: SimEcu) -> None:
    ecu = updated(ab, "app-1.1.0")
    extended_unlocked(ecu)
    assert ecu.send(COMMIT) == h("71 01 02 11 00")
    assert ecu.send(SWITCH) == h("7F 31 22")
    ecu.power_on()
    assert ecu.send("22 F1 89") == h("62 F1 89") + b"1.1.0"


def test_switch_back_is_refused_without_a_previous_update_or_when_that_bank_was_erased(ab: SimEcu) -> None:
    extended_unlocked(ab)
    assert ab.send(SWITCH) == h("7F 31 22")                       # factory software: nothing replaced
    ecu = updated(ab, "app-1.1.0")
    ecu.enter_programming()
    assert ecu.send(erase(REGION, 0x1000)) == h("71 01 FF 00 00")    # into bank A: no fallback left
    assert ecu.send(SWITCH) == h("7F 31 22")
    ecu.power_on()
    assert ecu.send("22 F1 89") == h("62 F1 89") + b"1.1.0"


def test_switch_back_to_a_lower_security_version_until_commit(ab: SimEcu) -> None:
    ecu = updated(ab, "app-2.0.0")                                 # security version 2 > 1 of bank A
    extended_unlocked(ecu)
    assert ecu.send(SWITCH) == h("71 01 02 10 00")                 # the counter waits for the commit
    ecu.power_on()
    assert ecu.send("22 F1 89") == h("62 F1 89") + b"1.0.0"
    assert ecu.record.anti_rollback == 1


def test_switch_back_needs_security_access_and_is_not_offered_by_a_single_bank_ecu(ab: SimEcu,
                                                                                   single_bank: SimEcu) -> None:
    ecu = updated(ab, "app-1.1.0")
    assert ecu.send("10 03")[:2] == h("50 03")
    assert ecu.send(SWITCH) == h("7F 31 33")
    assert single_bank.send("10 03")[:2] == h("50 03")
    single_bank.unlock()
    assert single_bank.send(SWITCH) == h("7F 31 31")


def test_ota_bench_sim_says_when_a_tester_switches_banks_or_commits() -> None:
    said: list[str] = []
    activity = SimActivity("bms", make_profile("ab"), said.append)
    for routine in (0x0210, 0x0211):
        payload = bytes([0x71, 0x01]) + routine.to_bytes(2, "big") + b"\x00"
        activity.event(UdsEvent(0.0, 0.0, "bms", "response", False, payload, 0x31, "RoutineControl", positive=True,
                                routine=routine))
    assert said == ["bms: switch back to the previous bank: ok", "bms: commit the update: ok"]


def test_switch_back_is_refused_while_a_delta_job_for_the_fallback_bank_is_armed(make_ecu) -> None:
    ecu = updated(make_ecu("ab", delta=DeltaSupport(address=STAGE, size=STAGE_SIZE)), "app-1.1.0")
    arm(ecu, package(ecu, base="app-1.1.0", target="app-2.0.0"))    # patches bank A at the next start
    assert ecu.send(SWITCH) == h("7F 31 22")
    ecu.power_on()
    assert ecu.send("22 F1 89") == h("62 F1 89") + b"2.0.0"
