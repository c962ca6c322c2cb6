"""SecurityAccess: a wrong key is refused, repeated wrong keys lock the ECU."""

from __future__ import annotations

import pytest
from udsoncan.exceptions import NegativeResponseException

from ota_support import BOTH_ECUS

INVALID_KEY, EXCEEDED_ATTEMPTS, DELAY_NOT_EXPIRED = 0x35, 0x36, 0x37


def nrc_of(call) -> int:
    with pytest.raises(NegativeResponseException) as info:
        call()
    return info.value.response.code


@pytest.mark.requirements("R156-7.2.1.2.3")
@BOTH_ECUS
def test_wrong_key_is_refused_then_security_locks(ecu):
    level = ecu.profile.security.level
    attempts = ecu.profile.security.max_attempts
    uds = ecu.uds
    uds.change_session(3)

    def wrong_key() -> None:
        seed = uds.request_seed(level).service_data.seed
        uds.send_key(level + 1, bytes(b ^ 0xFF for b in seed))

    for _ in range(attempts - 1):
        assert nrc_of(wrong_key) == INVALID_KEY
    assert nrc_of(wrong_key) == EXCEEDED_ATTEMPTS
    assert nrc_of(lambda: uds.request_seed(level)) == DELAY_NOT_EXPIRED


@pytest.mark.requirements("R156-7.2.1.2.3")
@BOTH_ECUS
def test_lockout_survives_a_power_cycle(ecu, power):
    level = ecu.profile.security.level
    uds = ecu.uds
    uds.change_session(3)
    for _ in range(ecu.profile.security.max_attempts):
        seed = uds.request_seed(level).service_data.seed
        with pytest.raises(NegativeResponseException):
            uds.send_key(level + 1, bytes(b ^ 0xFF for b in seed))

    power.off()
    power.on()
    ecu.diagnostics.wait_responsive(within=5.0)
    uds.change_session(3)
    assert nrc_of(lambda: uds.request_seed(level)) == DELAY_NOT_EXPIRED


@BOTH_ECUS
def test_right_key_unlocks(ecu):
    level = ecu.profile.security.level
    ecu.uds.change_session(3)
    ecu.uds.unlock_security_access(level)

    zero_seed = ecu.uds.request_seed(level).service_data.seed
    assert zero_seed == bytes(len(zero_seed)), "an unlocked level answers a seed of zeros (ISO 14229-1)"
