"""A scenario leaves nothing behind: no thread, bus, notifier, virtual channel or trace tap.

A nightly worker plays hundreds of scenarios in one process (issue 17: memory must stay flat);
anything one scenario leaves running or registered piles up over the night. Each case plays one
catalog scenario (a power cut, which restarts the virtual ECU's threads, and a network fault,
which adds the gateway and its traces) and compares what the process holds before and after.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import can
import pytest
from can.interfaces import virtual

from bench.config import BenchConfig, load_bench
from bench.image.builders import firmware_builder
from bench.scenarios.catalog import load_catalog
from bench.scenarios.runner import play
from bench.transport import virtual_bus

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = [("power-loss", "bcm-full-power_cut@page:77"), ("network", "bms-full-frame_loss@session-s1")]
STOPPING = 2.0
"""Seconds a thread that was told to stop (a cancelled timer) may take to end before it counts."""


@pytest.fixture(scope="module")
def virtual_bench() -> BenchConfig:
    return load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")


def held() -> dict[str, set[object]]:
    """What a scenario could leave behind, by kind (live objects of python-can by identity)."""
    gc.collect()
    return {
        "threads": set(threading.enumerate()),
        "buses": {id(o) for o in gc.get_objects() if isinstance(o, can.BusABC)},
        "notifiers": {id(o) for o in gc.get_objects() if isinstance(o, can.Notifier)},
        "virtual channels": set(virtual.channels),
        "trace taps": set(virtual_bus._taps),  # noqa: SLF001 - the registry a forgotten untap leaves an entry in
        "bus clocks": set(virtual_bus._clocks),  # noqa: SLF001
    }


@pytest.mark.parametrize(("campaign", "scenario_id"), SCENARIOS, ids=[s for _, s in SCENARIOS])
def test_a_played_scenario_leaves_nothing_running_or_registered(
        campaign: str, scenario_id: str, virtual_bench: BenchConfig, tmp_path: Path) -> None:
    kinds = {name: virtual_bench.profiles[ecu.profile].bootloader for name, ecu in virtual_bench.ecus.items()}
    scenario = next(s for s in load_catalog(REPO / "testcases" / "scenarios" / f"{campaign}.yaml", ecus=kinds)
                    if s.id == scenario_id)
    before = held()
    play(virtual_bench, scenario, firmware_builder(REPO), workdir=tmp_path)
    for thread in set(threading.enumerate()) - before["threads"]:
        thread.join(STOPPING)
    after = held()
    left = {kind: after[kind] - before[kind] for kind in before if after[kind] - before[kind]}
    assert not left, f"{campaign}[{scenario_id}] left behind: {left}"
