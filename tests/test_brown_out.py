"""Supply voltage as the virtual ECU feels it: brown-out resets, programming voltage window."""

from __future__ import annotations

import pytest
from udsoncan.exceptions import NegativeResponseException, TimeoutException

from bench.errors import FlashError

pytestmark = pytest.mark.ecu("bcm")


def test_dip_below_brown_out_threshold_resets_the_ecu(ecu, power, sim):
    ecu.uds.change_session(3)
    power.set_voltage(sim.config.virtual.brown_out_below - 0.5)
    assert not sim.powered
    with pytest.raises(TimeoutException):
        ecu.uds.tester_present()
    ecu.link.discard_pending()

    power.set_voltage(power.nominal_voltage)
    ecu.diagnostics.wait_responsive(within=5.0)
    assert sim.core().session == 0x01  # RAM was lost: back in the default session


@pytest.mark.parametrize("volts, nrc", [(8.0, 0x93), (16.5, 0x92)], ids=["too-low", "too-high"])
def test_programming_refused_outside_the_voltage_window(ecu, power, firmware, volts, nrc):
    power.set_voltage(volts)  # above brown-out: the ECU runs, but must not touch its flash
    with pytest.raises(FlashError) as info:
        ecu.flasher.flash(firmware("app-2.0.0"))
    assert isinstance(info.value.__cause__, NegativeResponseException)
    assert info.value.__cause__.response.code == nrc
    assert info.value.result.timeline.steps[-1].name == "RoutineControl erase"

    power.set_voltage(power.nominal_voltage)
    assert ecu.diagnostics.read_version() == "1.0.0"  # nothing was erased
