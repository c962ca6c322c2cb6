"""A fault triggered by a request of a virtual ECU lands before the ECU acts on that request,
however late the bench's other threads run (bench.faults.uds_events).

The bus monitor is stalled on purpose, as a loaded host stalls it: a trigger that heard the bus
through it would fire long after the ECU had handled the request (and the ones after it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from bench.errors import FlashError
from bench.faults import uds
from bench.monitor import UdsEvent
from bench.rig import Bench

STALL = 1.0
"""Seconds the monitor thread is held: the ECU handles that request and the next ones meanwhile."""


def stall_monitor(bench: Bench, bus: str, at: Callable[[UdsEvent], bool]) -> threading.Event:
    """Hold the monitor of ``bus`` for ``STALL`` s at the first event ``at`` matches, before a trigger
    armed later hears it, as a loaded host holds its thread; set the returned event once it has."""
    stalled = threading.Event()

    def hold(event: UdsEvent) -> None:
        if not stalled.is_set() and at(event):
            stalled.set()
            threading.Event().wait(STALL)

    bench.monitor(bus).subscribe(hold)
    return stalled


@pytest.mark.ecu("bms")
def test_a_cut_at_a_transfer_data_block_lands_before_the_ecu_writes_it(ecu, faults, firmware, sim):
    stalled = stall_monitor(faults.bench, ecu.config.bus,
                            lambda e: e.kind == "request" and e.service == "TransferData" and e.block_index == 3)
    cut = faults.when(uds.transfer_data(block=3)).power_cut(ecu, off_for=0.2)
    data_per_block = ecu.profile.max_block_length - 2
    first_page_of_block_3 = sim.download_base_index("program_page") + 2 * data_per_block // sim.config.virtual.page_size
    programmed: list[int] = []
    sim.probes.on("program_page", programmed.append)

    with pytest.raises(FlashError):
        ecu.flasher.flash(firmware("app-2.0.0"))

    assert stalled.is_set() and cut.wait(5.0)
    assert "TransferData #3 " in cut.record.trigger, cut.record.trigger
    assert programmed and max(programmed) < first_page_of_block_3, "the ECU wrote block 3 before the cut"


@pytest.mark.ecu("eps")
def test_a_cut_at_a_check_routine_lands_before_the_ecu_checks_the_block(ecu, faults, firmware):
    check = ecu.profile.routines.check_memory
    seen = iter(range(1, 3))
    stalled = stall_monitor(faults.bench, ecu.config.bus,  # at the second check request
                            lambda e: e.kind == "request" and e.routine == check and next(seen, 0) == 2)
    cut = faults.when(uds.request("RoutineControl", routine=check, nth=2)).power_cut(ecu, off_for=0.2)

    with pytest.raises(FlashError) as interrupted:
        ecu.flasher.flash_software(firmware("eps-2.0.0").files, expect_version="2.0.0")

    assert stalled.is_set() and cut.wait(5.0)
    assert f"rid=0x{check:04X}" in cut.record.trigger, cut.record.trigger
    # the ECU never checked the calibration block (logical block 1): it is still the one to finish
    assert interrupted.value.result.blocks_done == 1


@pytest.mark.ecu("bms")
def test_a_response_trigger_fires_when_the_monitor_hears_the_answer_on_the_bus(ecu, faults, firmware):
    held_until: list[float] = []
    stalled = stall_monitor(faults.bench, ecu.config.bus, lambda e: e.kind == "response" and e.service == "RequestDownload")
    faults.bench.monitor(ecu.config.bus).subscribe(
        lambda e: not held_until and stalled.is_set() and held_until.append(time.monotonic()))
    answered = faults.when(uds.response("RequestDownload", positive=True)).delay_frames(ecu, 0.0, count=1)

    ecu.flasher.flash(firmware("app-2.0.0"))

    assert answered.wait(5.0) and answered.record.trigger.startswith("bms ← 74 20 40 02 RequestDownload")
    assert answered.record.time >= held_until[0], "it fired before the monitor had heard the response"
