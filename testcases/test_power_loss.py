"""Power lost in the middle of TransferData: the ECU must never be bricked."""

from __future__ import annotations

import pytest

from bench.dids import BootMode
from bench.errors import FlashError
from bench.faults import probe


def interrupted_flash(ecu, faults, image, page: int):
    """Flash ``image`` with power cut halfway through programming page ``page`` of the download."""
    faults.when(probe("program_page_half", page)).power_cut(ecu)
    with pytest.raises(FlashError) as info:
        ecu.flasher.flash(image)
    assert not ecu.power.is_on()
    ecu.power.on()
    ecu.diagnostics.wait_responsive(within=5.0)
    return info.value.result


@pytest.mark.requirements("R156-7.2.2.1.1", "GB44496-5.2.5")
@pytest.mark.ecu("bcm")
def test_single_bank_stays_in_bootloader_and_accepts_a_new_flash(ecu, faults, firmware):
    image = firmware("app-2.0.0")
    interrupted_flash(ecu, faults, image, page=100)

    status = ecu.diagnostics.read_boot_status()
    assert status.mode == BootMode.BOOTLOADER
    assert ecu.diagnostics.read_version() is None  # half-written application is not valid

    result = ecu.flasher.flash(image)
    assert result.version_after == "2.0.0"


@pytest.mark.requirements("R156-7.2.2.1.1", "GB44496-5.2.5")
@pytest.mark.ecu("bms")
def test_ab_keeps_running_the_previous_version(ecu, faults, firmware):
    interrupted_flash(ecu, faults, firmware("app-2.0.0"), page=100)

    status = ecu.diagnostics.read_boot_status()
    assert status.mode == BootMode.APPLICATION and status.active_bank == 0
    assert ecu.diagnostics.read_version() == "1.0.0"

    assert ecu.flasher.flash(firmware("app-2.0.0")).version_after == "2.0.0"
