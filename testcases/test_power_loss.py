"""Power lost in the middle of TransferData: the ECU must never be bricked."""

from __future__ import annotations

import pytest

from bench.dids import BootMode
from bench.errors import FlashError
from ota_support import cut_power_at_page


def interrupted_flash(ecu, image, page: int):
    cut_power_at_page(ecu, page)
    with pytest.raises(FlashError) as info:
        ecu.flasher.flash(image)
    assert not ecu.power.is_on()
    ecu.power.on()
    ecu.diagnostics.wait_responsive(within=5.0)
    return info.value.result


@pytest.mark.ecu("bcm")
def test_single_bank_stays_in_bootloader_and_accepts_a_new_flash(ecu, firmware):
    image = firmware("app-2.0.0")
    interrupted_flash(ecu, image, page=100)

    status = ecu.diagnostics.read_boot_status()
    assert status.mode == BootMode.BOOTLOADER
    assert ecu.diagnostics.read_version() is None  # half-written application is not valid

    result = ecu.flasher.flash(image)
    assert result.version_after == "2.0.0"


@pytest.mark.ecu("bms")
def test_ab_keeps_running_the_previous_version(ecu, firmware):
    interrupted_flash(ecu, firmware("app-2.0.0"), page=100)

    status = ecu.diagnostics.read_boot_status()
    assert status.mode == BootMode.APPLICATION and status.active_bank == 0
    assert ecu.diagnostics.read_version() == "1.0.0"

    assert ecu.flasher.flash(firmware("app-2.0.0")).version_after == "2.0.0"
