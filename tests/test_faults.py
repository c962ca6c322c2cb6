"""Fault triggers fire exactly once, at the right message, and land on the timeline."""

from __future__ import annotations

import random
import re
import threading
from pathlib import Path

import pytest

from bench.errors import ConfigError, FlashError
from bench.faults import FaultInjector, after, at, probe, random_moment, random_transfer_block, uds
from bench.rig import Bench

pytestmark = pytest.mark.ecu("bms")


def fired_block(injection) -> int:
    return int(re.search(r"#(\d+)", injection.record.trigger).group(1))


def test_transfer_data_trigger_fires_once_at_that_block(ecu, faults, firmware):
    seen = []
    injection = faults.when(uds.transfer_data(block=5)).delay_frames(ecu, 0.0, count=1)
    faults.bench.monitor(ecu.config.bus).subscribe(lambda e: seen.append(e))

    ecu.flasher.flash(firmware("app-3.0.0-1mib"))

    assert injection.fired.is_set() and fired_block(injection) == 5
    assert [r.action for r in faults.timeline.records()] == ["delay frames"]
    assert sum(1 for e in seen if e.service == "TransferData" and e.kind == "request") > 5


def test_nth_occurrence_and_after(ecu, faults, firmware):
    first = faults.when(uds.request("DiagnosticSessionControl")).delay_frames(ecu, 0.0, count=1)
    second = faults.when(uds.request("DiagnosticSessionControl", nth=2)).delay_frames(ecu, 0.0, count=1)
    later = faults.when(after(uds.request("DiagnosticSessionControl"), 0.05)).delay_frames(ecu, 0.0, count=1)

    ecu.flasher.flash(firmware("app-2.0.0"))

    assert first.wait(1.0) and second.wait(1.0) and later.wait(1.0)
    assert first.record.trigger == "bms → 10 83 DiagnosticSessionControl functional suppressPosRsp"
    assert second.record.trigger == "bms → 10 02 DiagnosticSessionControl"  # extended (10 03) came first
    assert later.record.trigger.startswith("50 ms after")
    # ``first`` heard the same request before ``later``'s inner trigger did (armed first)
    assert later.record.time - first.record.time >= 0.05


def test_probe_trigger_cuts_at_the_exact_page(ecu, faults, firmware, sim):
    cut = faults.when(probe("program_page_half", 10)).power_cut(ecu)
    with pytest.raises(FlashError):
        ecu.flasher.flash(firmware("app-2.0.0"))
    assert cut.fired.is_set()
    page = sim.config.virtual.page_size
    base = sim.layout.offset(1)  # bank B: where the download went
    ecu.power.on()
    flash = sim.open_flash(threading.Event())
    try:
        torn = flash.read(base + 10 * page, page)
        after_tear = flash.read(base + 11 * page, page)
    finally:
        flash.close()
    image = firmware("app-2.0.0").to_bytes()
    assert torn[:page // 2] == image[10 * page:10 * page + page // 2]
    assert torn[page // 2:] == b"\xff" * (page // 2)
    assert after_tear == b"\xff" * page


def test_random_block_is_reproducible_from_its_seed(bench_config, tmp_path: Path, firmware):
    def chosen(seed: int, run: str) -> int:
        with Bench(bench_config, workdir=tmp_path / run) as rig:
            injector = FaultInjector(rig)
            ecu = rig.ecu("bcm")  # 17 blocks of 4 KiB
            injection = injector.when(random_transfer_block(seed)).delay_frames(ecu, 0.0, count=1)
            ecu.flasher.flash(firmware("app-2.0.0"))
            injector.close()
            return fired_block(injection)

    assert chosen(7, "a") == chosen(7, "b")
    assert {chosen(seed, f"s{seed}") for seed in (1, 2, 3)} != {chosen(7, "c")}


def test_close_disarms_what_has_not_fired(ecu, bench, firmware):
    injector = FaultInjector(bench)
    injection = injector.when(uds.transfer_data(block=2)).power_cut(ecu)
    injector.close()

    assert ecu.flasher.flash(firmware("app-2.0.0")).version_after == "2.0.0"
    assert not injection.fired.is_set() and injector.timeline.records() == []


def test_network_fault_on_a_bus_without_gateway_is_a_config_error(bench_config, tmp_path: Path):
    pt = bench_config.buses["powertrain"].model_copy(update={"gateway": False})
    config = bench_config.model_copy(update={"buses": {**bench_config.buses, "powertrain": pt}})
    with Bench(config, workdir=tmp_path) as rig:
        with pytest.raises(ConfigError, match="has no gateway"):
            FaultInjector(rig).when(uds.transfer_data(block=1)).partition(rig.ecu("bms"), lasting=1.0)


def test_random_moment_in_a_phase_waits_what_its_seed_says(ecu, faults):
    start = faults.when(uds.request("DiagnosticSessionControl")).delay_frames(ecu, 0.0, count=1)
    injection = faults.when(random_moment(uds.request("DiagnosticSessionControl"), 0.2, seed=3)).delay_frames(
        ecu, 0.0, count=1)
    ecu.uds.change_session(3)

    assert start.wait(2.0) and injection.wait(2.0)
    assert injection.record.time - start.record.time >= random.Random(3).uniform(0.0, 0.2)


def test_time_trigger_fires_after_arming(ecu, faults):
    injection = faults.when(at(0.05)).delay_frames(ecu, 0.0, count=1)
    assert injection.wait(2.0)
    assert injection.record.trigger == "50 ms after arming"


def test_a_duplicated_request_frame_is_absorbed_and_counted(ecu, faults, firmware):
    # once TransferData block 2 is on the bus, the next frame to the ECU arrives twice
    doubled = faults.when(uds.transfer_data(block=2)).duplicate_frames(ecu, 1, direction="to_ecu")

    result = ecu.flasher.flash(firmware("app-2.0.0"))

    assert doubled.fired.is_set() and result.version_after == "2.0.0"
    assert faults.bench.gateway(ecu.config.bus).counters()["to_ecu"]["duplicated"] == 1


def test_two_swapped_frames_are_absorbed_and_counted(ecu, faults, firmware):
    swapped = faults.when(uds.transfer_data(block=2)).reorder_frames(ecu, 1, direction="to_ecu")

    result = ecu.flasher.flash(firmware("app-2.0.0"))

    assert swapped.fired.is_set() and result.version_after == "2.0.0"
    assert faults.bench.gateway(ecu.config.bus).counters()["to_ecu"]["reordered"] == 1


def test_a_network_fault_on_a_clock_keeps_frames_apart_until_it_fires_or_is_disarmed(ecu, bench):
    """A timer may fire in the middle of a block of consecutive frames: until it has, the gateway
    passes frames sent together one by one, so the fault strikes the frame it would on a wire."""
    gateway = bench.gateway(ecu.config.bus)
    injector = FaultInjector(bench)
    fired = injector.when(at(0.01)).drop_frames(ecu, 1, direction="to_tester")
    waiting = injector.when(at(3600)).drop_frames(ecu, 1, direction="to_tester")
    injector.when(uds.transfer_data(block=1)).drop_frames(ecu, 1)  # a message trigger: no frame is in flight then
    assert fired.wait(2.0)
    assert gateway._apart == 1 and not waiting.fired.is_set()  # the hour-long one still waits
    injector.close()
    assert gateway._apart == 0
