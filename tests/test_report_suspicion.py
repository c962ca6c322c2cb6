"""Verdicts with evidence: a failure the evidence lays at the bench's door is a suspected bench
fault with its reason, never a product defect.

The stall of ``network[bcm-full-frame_loss@block:8-s2]`` is planted on purpose: the tester's
ISO-TP stack sends RequestDownload's first frame, the ECU flow-controls it (``30 00 00``), and
the tester's consecutive frames never reach the bus."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import can
import pytest

from bench.config.models import EcuConfig
from bench.faults.timeline import FaultTimeline
from bench.nightly.verdicts import BENCH_BROKEN
from bench.report.suspicion import NO_FAULT_FIRED, TESTER_WENT_SILENT, suspect_bench, find_tester_stalls, timing_gaps
from report_suite import REPO, run_suite

ECU = EcuConfig(bus="body", request_id=0x7E0, response_id=0x7E8, profile="any")
REQUEST_DOWNLOAD_FF = bytes.fromhex("10 0B 34 00 44 00 00 80")
CONTINUE = bytes.fromhex("30 00 00 AA AA AA AA AA")


def frame(at: float, can_id: int, data: bytes) -> can.Message:
    return can.Message(timestamp=at, arbitration_id=can_id, data=data, is_extended_id=False)


def test_a_first_frame_flow_controlled_and_never_continued_is_a_stall() -> None:
    frames = [frame(1.0, 0x7E0, REQUEST_DOWNLOAD_FF), frame(1.003, 0x7E8, CONTINUE),
              frame(1.5, 0x7DF, bytes.fromhex("02 3E 80")),  # functional TesterPresent: not the exchange
              frame(2.0, 0x7E0, bytes.fromhex("02 3E 00"))]  # the tester's next request, no consecutive frame
    [stall] = find_tester_stalls(frames, "bcm", ECU, n_bs=1.0)
    assert (stall.first_frame.timestamp, stall.flow_control.timestamp) == (1.0, 1.003)
    assert "3 ms later; the tester sent no consecutive frame" in stall.describe(origin=0.0)
    assert find_tester_stalls(frames[:2], "bcm", ECU, n_bs=1.0)  # the trace ends silent: a stall too


def test_a_continued_message_or_a_flow_control_past_n_bs_is_no_stall() -> None:
    continued = [frame(1.0, 0x7E0, REQUEST_DOWNLOAD_FF), frame(1.003, 0x7E8, CONTINUE),
                 frame(1.004, 0x7E0, bytes.fromhex("21 00 01 00 00 AA AA AA"))]
    assert find_tester_stalls(continued, "bcm", ECU, n_bs=1.0) == []
    late = [frame(1.0, 0x7E0, REQUEST_DOWNLOAD_FF), frame(2.5, 0x7E8, CONTINUE)]
    assert find_tester_stalls(late, "bcm", ECU, n_bs=1.0) == []  # the tester rightly gave up: the ECU was late


def test_timing_gaps_name_the_slowest_flow_control_and_who_went_silent() -> None:
    frames = [frame(0.0, 0x7E0, REQUEST_DOWNLOAD_FF), frame(0.005, 0x7E8, CONTINUE),
              frame(0.006, 0x7E0, bytes.fromhex("21 00 01 00 00 AA AA AA")),
              frame(1.0, 0x7E0, REQUEST_DOWNLOAD_FF), frame(1.288, 0x7E8, CONTINUE),
              frame(1.3, 0x7E0, bytes.fromhex("21 00 01 00 00 AA AA AA"))]
    assert timing_gaps(frames, "bms", ECU, n_bs=0.2, origin=0.0) == [
        "bms: slowest flow control 288 ms after the tester's first frame at 1.000 s (N_Bs 200 ms)",
        "bms: the last frame of the exchange is the tester's, 21 00 01 00 00 AA AA AA at 1.300 s"]


def rig_without_traces() -> Any:
    return SimpleNamespace(traces={}, ecu_names=[], config=None, profile=None)


def test_a_scenario_whose_fault_never_fired_is_suspected_and_one_that_fired_is_not() -> None:
    silent = FaultTimeline()
    suspicion = suspect_bench(rig_without_traces(), silent, fault_armed=True)
    assert suspicion is not None and suspicion.reason == NO_FAULT_FIRED
    assert suspect_bench(rig_without_traces(), silent, fault_armed=False) is None  # a test that armed nothing
    fired = FaultTimeline()
    fired.add("bcm -> 36 TransferData #8", "frame loss", "bcm")
    assert suspect_bench(rig_without_traces(), fired, fault_armed=True) is None


STALL_CONFTEST = '''
from bench.transport import uds_client

REQUEST_DOWNLOAD = 0x34
made = uds_client.make_stack


def stalling(*args, **kwargs):
    """The tester's stack sends RequestDownload's first frame; its consecutive frames never reach the bus."""
    stack = made(*args, **kwargs)
    send, stalled = stack.txfn, [False]

    def txfn(msg):
        kind = msg.data[0] >> 4
        if kind in (0, 1):
            stalled[0] = kind == 1 and msg.data[2] == REQUEST_DOWNLOAD
        if not (stalled[0] and kind == 2):
            send(msg)

    stack.txfn = txfn
    return stack


uds_client.make_stack = stalling  # for the whole run: scenario items and tests alike
'''

STALL_CATALOG = """\
campaign: stall
defaults: {from: factory, to: app-2.0.0}
matrix: {ecu: bcm, fault: power_cut, at: "block:2"}
expect: {outcome: updated, versions: [old, new, bootloader]}
"""

STALL_TEST = '''
import pytest


@pytest.mark.ecu("bcm")
def test_flash_with_a_stalling_tester(flasher, firmware):
    flasher.flash(firmware("app-2.0.0"))
'''


@pytest.fixture(scope="module")
def stalled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("stall")
    (root / "fixtures").symlink_to(REPO / "fixtures")
    (root / "scenarios").mkdir()
    (root / "scenarios" / "stall.yaml").write_text(STALL_CATALOG)
    (root / "conftest.py").write_text(STALL_CONFTEST)
    (root / "test_stall.py").write_text(STALL_TEST)
    done = run_suite(root, "--alluredir", "allure-results")
    results = {}
    for path in (root / "allure-results").glob("*-result.json"):
        result = json.loads(path.read_text())
        result["dir"] = path.parent
        results[result["name"]] = result
    return done, results


def test_a_planted_tester_stall_is_a_suspected_bench_fault_never_a_product_defect(stalled) -> None:
    done, results = stalled
    assert done.returncode == BENCH_BROKEN, done.stdout + done.stderr  # no ECU failure in the run
    for name, stands_for in (("stall[bcm-full-power_cut@block:2]", "OutcomeViolation"),
                             ("test_flash_with_a_stalling_tester", "FlashError")):
        message = results[name]["statusDetails"]["message"]
        assert message == (f"bench.errors.SuspectedBenchFault: {TESTER_WENT_SILENT} "
                           f"(the failure it stands for: {stands_for})"), message  # no scenario id: one group
        [details] = [item["source"] for item in results[name]["attachments"] if item["name"] == "suspected bench fault"]
        text = (results[name]["dir"] / details).read_text()
        assert "the tester sent no consecutive frame after it" in text and "30 00 00" in text, text
        assert f"the failure it stands for:\n{stands_for}: " in text
    parameters = {item["name"]: item["value"] for item in results["stall[bcm-full-power_cut@block:2]"]["parameters"]}
    assert (parameters["ecu"], parameters["trigger"], parameters["seed"]) == ("bcm", "block:2", "0")  # no Python repr
    scenario_trace = results["stall[bcm-full-power_cut@block:2]"]["statusDetails"]["trace"]
    assert "was answered by the ECU's flow control 30 00 00" in scenario_trace  # the reader sees why at once
    assert "suspected bench fault: the tester went silent" in done.stdout
    categories = {c["name"]: c for c in json.loads((REPO / "bench/report/categories.json").read_text())}
    assert "Suspected bench fault" in categories
