"""Resume after a power cut: continue from the journal, re-send at most one block."""

from __future__ import annotations

import pytest

from bench.errors import FlashError
from bench.faults import probe
from ota_support import BOTH_ECUS


@pytest.mark.requirements("R156-7.2.2.1.1", "GB44496-5.2.5")
@BOTH_ECUS
@pytest.mark.parametrize("page", [70, 130])  # both after the first block: the BMS's 16 KiB, the BCM's 4 KiB
def test_resume_resends_at_most_one_block(ecu, faults, firmware, page):
    image = firmware("app-2.0.0")
    faults.when(probe("program_page_half", page)).power_cut(ecu)
    with pytest.raises(FlashError) as info:
        ecu.flasher.flash(image)
    acknowledged = info.value.result.bytes_sent
    ecu.power.on()
    ecu.diagnostics.wait_responsive(within=5.0)

    result = ecu.flasher.flash(image, resume=True)

    assert acknowledged >= result.block_size, "the cut must land once a block was acknowledged"
    assert result.version_after == "2.0.0"
    assert 0 < result.resumed_from and acknowledged - result.resumed_from <= result.block_size
    assert result.bytes_sent == len(image.to_bytes()) - result.resumed_from


@BOTH_ECUS
def test_resume_with_another_image_downloads_everything(ecu, faults, firmware):
    faults.when(probe("program_page_half", 130)).power_cut(ecu)
    with pytest.raises(FlashError):
        ecu.flasher.flash(firmware("app-2.0.0"))
    ecu.power.on()
    ecu.diagnostics.wait_responsive(within=5.0)

    result = ecu.flasher.flash(firmware("app-2.1.0"), resume=True)

    assert result.resumed_from == 0
    assert result.version_after == "2.1.0"
