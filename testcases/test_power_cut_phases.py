"""A power cut at every phase of the update, on single-bank and A/B ECUs.

Whatever phase the cut hits, the ECU must come back (never bricked), run the old or the new
version (a single-bank ECU may instead wait in its bootloader), keep a consistent NVM, and
accept the update afterwards — resuming when its journal allows.
"""

from __future__ import annotations

import pytest

from bench.errors import FlashError
from bench.faults import last_transfer_block, middle_transfer_block, probe, uds
from bench.scenarios.oracles import (nvm_consistent, recovers, resent_at_most_one_block,
                                     version_is_old_or_new)
from ota_support import BOTH_ECUS

PHASES = {
    "programming-session": lambda p: uds.request("DiagnosticSessionControl", subfunction=0x02),
    "security-access": lambda p: uds.request("SecurityAccess", subfunction=p.security.level + 1),
    "erase-request": lambda p: uds.request("RoutineControl", routine=p.routines.erase),
    "mid-erase": lambda p: probe("erase_sector_half", 5),
    "first-block": lambda p: uds.transfer_data(block=1),
    "middle-block": lambda p: middle_transfer_block(),
    "last-block": lambda p: last_transfer_block(),
    "mid-page-program": lambda p: probe("program_page_half", 77),
    "transfer-exit": lambda p: uds.request("RequestTransferExit"),
    "check-routine": lambda p: uds.request("RoutineControl", routine=p.routines.check_dependencies),
    "reset": lambda p: uds.request("ECUReset"),
    "first-boot": lambda p: probe("boot", 0),
    "confirmation": lambda p: probe("confirm", 1),
}
BEFORE_TRANSFER = ("programming-session", "security-access", "erase-request", "mid-erase")
DURING_TRANSFER = ("first-block", "middle-block", "last-block", "mid-page-program")
"""The other phases come after the whole download was sent ("check-routine": the ECU may have
finished the check, and taken the download in, before the cut lands, as on a rig)."""


@pytest.mark.requirements("R156-7.2.2.1.1", "GB44496-5.2.5")
@BOTH_ECUS
@pytest.mark.parametrize("phase", PHASES)
def test_power_cut_never_bricks_and_the_update_completes_afterwards(ecu, faults, firmware, phase):
    if phase == "confirmation" and ecu.profile.bootloader != "ab":
        pytest.skip("single-bank ECUs have no trial boot to confirm")
    image = firmware("app-2.0.0")
    cut = faults.when(PHASES[phase](ecu.profile)).power_cut(ecu, off_for=0.2)

    try:
        interrupted = ecu.flasher.flash(image)
    except FlashError as failure:
        interrupted = failure.result
    assert cut.wait(timeout=5.0), f"the power cut at {phase} never fired"
    ecu.power.on()  # the 0.2 s off-time may still be running: make sure power is back

    recovers(ecu, within=5.0)
    version_is_old_or_new(ecu, old="1.0.0", new="2.0.0")
    nvm_consistent(ecu.sim)

    resumed = ecu.flasher.flash(image, resume=True)
    assert resumed.version_after == "2.0.0"
    check_resume(phase, interrupted, resumed, total=len(image.to_bytes()))


def check_resume(phase: str, interrupted, resumed, *, total: int) -> None:  # noqa: ANN001 - FlashResults
    """What the resumed attempt must send, by where the cut landed: everything when nothing was
    downloaded yet; from the journal, re-sending at most one block, when the cut hit TransferData;
    nothing when the whole download was acknowledged; everything again once the ECU had taken
    the download in (checked, reset, booted: the journal is spent)."""
    assert resumed.resumed_from + resumed.bytes_sent == total, "the resumed attempt must complete the download"
    if phase in BEFORE_TRANSFER:
        assert interrupted.bytes_sent == 0 and resumed.resumed_from == 0, "nothing was downloaded: start over"
    elif phase in DURING_TRANSFER and not (phase == "last-block" and interrupted.bytes_sent == total):
        assert interrupted.timeline.steps[-1].name == "TransferData", f"the cut at {phase} must stop TransferData"
        resent_at_most_one_block(interrupted, resumed)
        if phase != "first-block":
            assert resumed.resumed_from > 0, "the blocks programmed before the cut must not be sent again"
    else:
        # A UDS trigger races the ECU, as on a rig: the last block may be acknowledged before the cut
        # lands, and the whole update taken in (the journal spent) before a later cut does.
        assert interrupted.bytes_sent == total, "the whole download went out before the cut"
        if interrupted.failure is None:
            allowed = {0}
        else:
            allowed = {"last-block": {total}, "transfer-exit": {total}, "check-routine": {total, 0}}.get(phase, {0})
        assert resumed.resumed_from in allowed, f"after a cut at {phase} the resume starts at {resumed.resumed_from}"
