"""Helpers shared by the OTA suites (imported by name: testcases/ is on sys.path)."""

from __future__ import annotations

import pytest

from bench.rig import EcuHandle

BOTH_ECUS = pytest.mark.parametrize("ecu", ["bcm", "bms"], indirect=True)
"""Run a test on the single-bank ECU (bcm, classic CAN) and the A/B ECU (bms, CAN FD)."""


def cut_power_at_page(ecu: EcuHandle, page_in_image: int) -> None:
    """Arm a one-shot power cut in the middle of programming page ``page_in_image`` of the
    download (counted from the start of the bank the download goes to)."""
    assert ecu.sim is not None and ecu.power is not None
    core = ecu.sim.core()
    assert core is not None, f"{ecu.name} is not powered"
    first_page = ecu.sim.layout.offset(core.boot.target_bank()) // ecu.sim.config.virtual.page_size
    ecu.sim.probes.once("program_page_half", first_page + page_in_image, ecu.power.off)
