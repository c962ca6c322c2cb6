"""The anti-rollback counter of the bench's bootloaders moves only when an update is committed:
at the routine commit_bank (single bank and A/B), or on A/B when the fallback bank is written
again. Until then the previous software goes back (a bank switch, a re-flash), as an update
master needs to roll a campaign back; afterwards it is refused (CheckProgrammingDependencies
status 0x04)."""

from __future__ import annotations

from bench.config.models import DeltaSupport
from sim_factory import REGION, SimEcu, erase, h, install, recipe
from test_delta_ecu import STAGE, STAGE_SIZE, arm, package

COMMIT = "31 01 02 11"
ACCEPTED, BELOW_COUNTER = h("71 01 FF 01 00"), h("71 01 FF 01 04")


def commit(ecu: SimEcu) -> bytes | None:
    assert ecu.send("10 03")[:2] == h("50 03")
    ecu.unlock()
    return ecu.send(COMMIT)


def running(ecu: SimEcu) -> bytes:
    ecu.power_on()
    answer = ecu.send("22 F1 89")
    assert answer is not None and answer[:3] == h("62 F1 89"), answer
    return answer[3:]


def test_single_bank_takes_its_previous_software_back_until_the_update_is_committed(single_bank: SimEcu) -> None:
    ecu = single_bank
    assert install(ecu, recipe("app-2.0.0")) == ACCEPTED
    assert (ecu.record.anti_rollback, ecu.record.banks[0].security_version) == (1, 2)   # pending the commit
    assert install(ecu, recipe("app-1.0.0")) == ACCEPTED                               # the rollback re-flash
    assert running(ecu) == b"1.0.0"
    assert install(ecu, recipe("app-2.0.0")) == ACCEPTED
    assert running(ecu) == b"2.0.0"
    assert commit(ecu) == h("71 01 02 11 00")
    assert ecu.record.anti_rollback == 2
    assert install(ecu, recipe("app-1.0.0")) == BELOW_COUNTER
    assert commit(ecu) == h("71 01 02 11 00")                                          # idempotent
    assert ecu.record.anti_rollback == 2


def test_ab_commit_raises_the_counter_to_the_running_update(ab: SimEcu) -> None:
    assert install(ab, recipe("app-2.0.0")) == ACCEPTED
    assert running(ab) == b"2.0.0"
    assert ab.record.anti_rollback == 1
    assert commit(ab) == h("71 01 02 11 00")
    record = ab.record
    assert (record.anti_rollback, record.fallback_bank) == (2, None)
    assert install(ab, recipe("app-1.0.0")) == BELOW_COUNTER


def test_ab_writing_the_fallback_bank_again_commits_the_running_update(ab: SimEcu) -> None:
    assert install(ab, recipe("app-2.0.0")) == ACCEPTED
    assert running(ab) == b"2.0.0"
    ab.enter_programming()
    assert ab.send(erase(REGION, 0x1000)) == h("71 01 FF 00 00")     # bank A, the previous software
    record = ab.record
    assert (record.anti_rollback, record.fallback_bank) == (2, None)


def test_ab_delta_job_into_the_fallback_bank_commits_the_running_update(make_ecu) -> None:
    ecu = make_ecu("ab", delta=DeltaSupport(address=STAGE, size=STAGE_SIZE))
    assert install(ecu, recipe("app-2.0.0")) == ACCEPTED
    assert running(ecu) == b"2.0.0"
    arm(ecu, package(ecu, base="app-2.0.0", target="app-2.1.0"))    # patches bank A at the next start
    assert ecu.record.anti_rollback == 1                            # armed, nothing written yet
    assert running(ecu) == b"2.1.0"
    record = ecu.record
    assert (record.anti_rollback, record.fallback_bank) == (2, 1)   # 2.0.0 committed; bank B the new fallback


def test_ab_update_failing_its_trial_never_moves_the_counter(ab: SimEcu) -> None:
    assert install(ab, recipe("app-2.0.0-selftest-fail")) == ACCEPTED
    assert running(ab) == b"1.0.0"                                   # rolled back to bank A
    assert commit(ab) == h("71 01 02 11 00")
    assert ab.record.anti_rollback == 1
