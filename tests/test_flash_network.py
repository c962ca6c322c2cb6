"""Pre- and post-programming go to the network as OEM sequences send them: functional requests
(CAN id 0x7DF) with the suppress bit, through the bench's CAN gateway, accepted by the virtual
ECU; the bus monitor shows the exact bytes and the order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.image import build_image
from bench.rig import Bench

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "fixtures/firmware/app-2.0.0.yaml"
KEEPALIVE = bytes.fromhex("3E 80")
PRE_PROGRAMMING = [bytes.fromhex("10 83"), bytes.fromhex("85 82"), bytes.fromhex("28 83 01")]
POST_PROGRAMMING = [bytes.fromhex("28 80 01"), bytes.fromhex("85 81")]
CLEAR_ALL_DTCS = bytes.fromhex("14 FF FF FF")


def bench_clearing_dtcs(tmp_path: Path, clear_dtcs: bool) -> Bench:
    config = load_bench(ROOT / "fixtures/benches/virtual.yaml")
    bcm = config.ecus["bcm"]
    profile = config.profiles[bcm.profile].model_copy(update={"clear_dtcs": clear_dtcs})
    config = config.model_copy(update={"profiles": {**config.profiles, bcm.profile: profile}})
    return Bench(config, workdir=tmp_path, ecus=["bcm"], gateway=True)


@pytest.fixture(params=[False, True], ids=["keep-dtcs", "clear-dtcs"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bench]:
    with bench_clearing_dtcs(tmp_path, request.param) as bench:
        yield bench


def test_network_is_prepared_and_restored_functionally(rig: Bench) -> None:
    monitor = rig.monitor("body")
    handle = rig.ecu("bcm")
    seen_while_programming: list[tuple[bool, tuple[int, int]]] = []

    def look(done: int, total: int) -> None:
        core = handle.sim.core()
        seen_while_programming.append((core.dtc_setting_on, core.communication_control))

    result = handle.flasher.flash(build_image(IMAGE), progress=look)

    assert result.version_after == "2.0.0"
    events = monitor.events()
    functional = [e for e in events if e.functional and e.payload != KEEPALIVE]
    assert all(e.kind == "request" for e in functional)
    expected_after = POST_PROGRAMMING + ([CLEAR_ALL_DTCS] if handle.profile.clear_dtcs else [])
    assert [e.payload for e in functional] == PRE_PROGRAMMING + expected_after

    physical = [e for e in events if not e.functional and e.kind == "request"]
    programming = next(e for e in physical if e.payload == bytes.fromhex("10 02"))
    reset = next(e for e in physical if e.payload == bytes.fromhex("11 01"))
    assert all(e.time < programming.time for e in functional[:3])
    assert all(e.time > reset.time for e in functional[3:])
    # through the gateway to the ECU, which took them: DTC setting off, normal messages Rx and Tx off
    assert seen_while_programming and set(seen_while_programming) == {(False, (0x03, 0x01))}
    # none of them drew an answer (suppressed; the virtual ECU lacks ClearDiagnosticInformation, which
    # it ignores when addressed functionally)
    answers = [e.payload for e in events if e.kind == "response" and e.sid in (0x85, 0x28, 0x14)]
    assert answers == []
    if handle.profile.clear_dtcs:
        assert "no answer from this ECU" in result.timeline.steps[-1].detail
