"""Images the bootloader must not keep: failing trial boot, tampered, foreign, downgraded."""

from __future__ import annotations

import dataclasses

import pytest

from bench.dids import BootMode, BootState
from bench.errors import FlashError, FlashRolledBack
from bench.image import FirmwareImage
from ota_support import BOTH_ECUS


@pytest.mark.requirements("R156-7.2.2.1.1", "GB44496-5.2.5")
@pytest.mark.ecu("bms")
def test_image_failing_its_trial_boot_is_rolled_back(ecu, firmware):
    with pytest.raises(FlashRolledBack, match="rolled back") as failure:  # never a successful flash
        ecu.flasher.flash(firmware("app-2.0.0-selftest-fail"))

    result = failure.value.result
    assert result.rolled_back and (result.version_before, result.version_after) == ("1.0.0", "1.0.0")
    status = ecu.diagnostics.read_boot_status()
    assert (status.mode, status.active_bank, status.state) == (BootMode.APPLICATION, 0, BootState.CONFIRMED)


def tampered(image: FirmwareImage) -> FirmwareImage:
    payload = bytearray(image.payload)
    payload[len(payload) // 2] ^= 0x01
    return dataclasses.replace(image, payload=bytes(payload))


@BOTH_ECUS
@pytest.mark.parametrize("recipe, make", [
    ("app-2.0.0", tampered),
    ("app-2.0.0-foreign", None),
    ("app-0.9.0-downgrade", None),
], ids=["tampered", "foreign-key", "downgrade"])
@pytest.mark.requirements("R156-7.2.1.1", "GB44496-5.1.1")
def test_refused_image_never_runs(ecu, firmware, recipe, make):
    image = firmware(recipe)
    if make:
        image = make(image)
    with pytest.raises(FlashError, match="check"):
        ecu.flasher.flash(image)

    ecu.uds.ecu_reset(1)
    ecu.diagnostics.wait_responsive(within=5.0)
    version = ecu.diagnostics.read_version()
    if ecu.profile.bootloader == "ab":
        assert version == "1.0.0"  # the running bank was never touched
    else:
        assert version is None  # erased for the download; the bootloader stays resident
        assert ecu.diagnostics.read_boot_status().mode == BootMode.BOOTLOADER


@BOTH_ECUS
@pytest.mark.requirements("R156-7.2.2.1.1", "R156-7.2.1.1")
def test_previous_software_goes_back_until_the_update_is_committed(ecu, firmware):
    """The anti-rollback counter moves at the commit, not at the install: an update that raised the
    security version (1.0.0 -> 2.0.0) can still be undone, as an update master rolling back a
    campaign must (A/B: a bank switch; single bank: a re-flash); once committed it cannot."""
    ecu.flasher.flash(firmware("app-2.0.0"))
    if ecu.profile.bootloader == "ab":
        ecu.flasher.switch_back("1.0.0")
    else:
        ecu.flasher.flash(firmware("app-1.0.0"))
    assert ecu.diagnostics.read_version() == "1.0.0"

    ecu.flasher.flash(firmware("app-2.0.0"))
    ecu.flasher.commit_update()
    with pytest.raises(FlashError, match="check"):
        ecu.flasher.flash(firmware("app-1.0.0"))
