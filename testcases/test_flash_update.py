"""A full OTA update of each kind of ECU: flash, reset, read the new version back."""

from __future__ import annotations

import pytest

from bench.dids import BootMode, BootState
from ota_support import BOTH_ECUS


@pytest.mark.requirements("R156-7.2.1.2.2", "GB44496-5.1.2")
@BOTH_ECUS
def test_full_image_is_flashed_and_new_version_runs(ecu, firmware):
    assert ecu.diagnostics.read_version() == "1.0.0"

    result = ecu.flasher.flash(firmware("app-2.0.0"))

    assert result.version_after == "2.0.0"
    status = ecu.diagnostics.read_boot_status()
    assert status.mode == BootMode.APPLICATION
    if ecu.profile.bootloader == "ab":
        assert status.active_bank == 1 and status.state == BootState.CONFIRMED
    steps = [s.name for s in result.timeline.steps]
    assert steps.index("RoutineControl erase") < steps.index("TransferData") < \
        steps.index("RoutineControl check programming dependencies") < steps.index("ECUReset hard")
    assert all(s.outcome == "ok" for s in result.timeline.steps)


@pytest.mark.requirements("R156-7.2.1.2.2", "GB44496-5.1.2")
@BOTH_ECUS
def test_second_update_goes_to_the_other_bank_and_keeps_running(ecu, firmware):
    ecu.flasher.flash(firmware("app-2.0.0"))
    result = ecu.flasher.flash(firmware("app-2.1.0"))

    assert result.version_after == "2.1.0"
    if ecu.profile.bootloader == "ab":
        assert ecu.diagnostics.read_boot_status().active_bank == 0
