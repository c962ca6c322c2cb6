"""Network faults between tester and ECU, injected by the bench's CAN gateway.

Some must be absorbed by ISO-TP and UDS timings and the flasher's retries (the update
succeeds); the others must make the update fail cleanly — the ECU keeps a safe state — and a
new attempt (resumed where possible) must succeed.
"""

from __future__ import annotations

import pytest

from bench.errors import FlashError
from bench.faults import uds
from bench.scenarios.oracles import (nvm_consistent, recovers, resent_at_most_one_block,
                                     version_is_old_or_new)
from ota_support import BOTH_ECUS


def assert_safe_then_updates(ecu, image, *, resume: bool, interrupted=None) -> None:
    recovers(ecu, within=5.0)
    version_is_old_or_new(ecu, old="1.0.0", new=image.header.version)
    nvm_consistent(ecu.sim)
    result = ecu.flasher.flash(image, resume=resume)
    assert result.version_after == image.header.version
    if interrupted is not None:
        resent_at_most_one_block(interrupted, result)


class TestDelayedFrames:
    @pytest.fixture
    def bench_config(self, bench_config):
        return bench_config.with_network_margin(1.0)  # a loaded host's late answer is not the delay's

    @BOTH_ECUS
    def test_frames_delayed_5_ms_are_absorbed(self, ecu, faults, firmware):
        delay = faults.when(uds.request("RequestDownload")).delay_frames(ecu, 0.005)

        result = ecu.flasher.flash(firmware("app-2.0.0"))

        assert delay.fired.is_set() and result.version_after == "2.0.0"
        assert result.retries == 0
        delayed = faults.bench.gateway(ecu.config.bus).counters()
        assert delayed["to_ecu"]["delayed"] >= 1 and delayed["to_tester"]["delayed"] >= 1  # the frames were held


@BOTH_ECUS
def test_a_lost_frame_during_transfer_is_absorbed_by_a_retry(ecu, faults, firmware):
    lost = faults.when(uds.transfer_data(block=3)).drop_frames(ecu, 1, direction="to_tester")

    result = ecu.flasher.flash(firmware("app-2.0.0"))

    assert lost.fired.is_set()
    assert result.retries >= 1 and result.version_after == "2.0.0"
    assert faults.bench.gateway(ecu.config.bus).counters()["to_tester"]["dropped"] == 1


@pytest.mark.requirements("R156-7.2.2.1.1", "GB44496-5.2.5")
@BOTH_ECUS
def test_partition_during_transfer_fails_cleanly_then_resumes(ecu, faults, firmware):
    image = firmware("app-2.0.0")
    faults.when(uds.transfer_data(block=3)).partition(ecu, lasting=4.0)

    with pytest.raises(FlashError) as failure:
        ecu.flasher.flash(image)
    faults.bench.gateway(ecu.config.bus).clear()  # the cable is back

    assert failure.value.result.timeline.steps[-1].name == "TransferData"
    assert_safe_then_updates(ecu, image, resume=True, interrupted=failure.value.result)


@pytest.mark.requirements("R156-7.2.1.1", "GB44496-5.1.1")
@BOTH_ECUS
def test_corrupted_data_is_caught_by_the_check_and_a_new_attempt_succeeds(ecu, faults, firmware):
    image = firmware("app-2.0.0")
    # Byte 5 of an ISO-TP consecutive frame is image data: ISO-TP cannot notice, only the
    # bootloader's check of the downloaded image can.
    faults.when(uds.transfer_data(block=2)).corrupt_frames(
        ecu, 1, byte_index=5, direction="to_ecu", frames=lambda frame: frame.data[0] >> 4 == 0x2)

    with pytest.raises(FlashError, match="check memory"):
        ecu.flasher.flash(image)

    assert_safe_then_updates(ecu, image, resume=False)


@pytest.mark.requirements("R156-7.2.2.1.1", "GB44496-5.2.5")
@BOTH_ECUS
def test_bus_off_during_erase_fails_cleanly(ecu, faults, firmware):
    image = firmware("app-2.0.0")
    faults.when(uds.request("RoutineControl", routine=ecu.profile.routines.erase)).bus_off(ecu, lasting=4.0)

    with pytest.raises(FlashError):
        ecu.flasher.flash(image)
    faults.bench.gateway(ecu.config.bus).clear()

    assert_safe_then_updates(ecu, image, resume=True)
