"""Brown-outs while an ECU is being flashed."""

from __future__ import annotations

import pytest

from bench.errors import FlashError
from bench.faults import uds
from bench.scenarios.oracles import nvm_consistent, recovers, version_is_old_or_new
from ota_support import BOTH_ECUS


@pytest.mark.requirements("R156-7.2.2.1.1", "GB44496-5.2.5")
@BOTH_ECUS
def test_brown_out_reset_during_erase_leaves_a_safe_ecu(ecu, faults, firmware, sim):
    image = firmware("app-2.0.0")
    dip = faults.when(uds.request("RoutineControl", routine=ecu.profile.routines.erase)).brown_out(
        ecu, volts=sim.config.virtual.brown_out_below - 1.0, lasting=0.3)

    with pytest.raises(FlashError):
        ecu.flasher.flash(image)
    assert dip.wait(5.0)

    recovers(ecu, within=5.0)
    version_is_old_or_new(ecu, old="1.0.0", new="2.0.0")
    nvm_consistent(sim)
    assert ecu.flasher.flash(image).version_after == "2.0.0"


@pytest.mark.requirements("R156-7.2.2.1.2", "GB44496-5.2.4")
@BOTH_ECUS
def test_low_voltage_during_transfer_stops_programming_with_0x93(ecu, faults, firmware, sim):
    image = firmware("app-2.0.0")
    low, _high = sim.config.virtual.programming_voltage
    faults.when(uds.transfer_data(block=2)).brown_out(ecu, volts=low - 1.0, lasting=1.0)

    with pytest.raises(FlashError) as failure:
        ecu.flasher.flash(image)
    assert "0x93" in failure.value.result.timeline.steps[-1].outcome  # VoltageTooLow, not a reset

    faults.close()  # voltage back to nominal
    assert ecu.flasher.flash(image, resume=True).version_after == "2.0.0"
