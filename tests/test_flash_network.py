"""Pre- and post-programming go to the network as OEM sequences send them: functional requests
(CAN id 0x7DF) with the suppress bit, through the bench's CAN gateway, accepted by the virtual
ECU; the bus monitor shows the exact bytes and the order."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import can
import pytest

from bench.config import load_bench
from bench.config.models import BusConfig, EcuConfig, EcuProfile, Timing
from bench.errors import FlashError
from bench.flash import Timeline
from bench.flash.network import prepare_network, restore_network
from bench.image import build_image
from bench.rig import Bench
from bench.transport.can_bus import open_bus
from bench.transport.isotp_link import address, make_stack
from bench.transport import uds_client

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
    events = [e for e in monitor.events() if e.ecu == "bcm"]  # a functional request is an event of every ECU on the bus
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


@pytest.fixture
def scripted_ecu() -> Iterator:
    """``scripted_ecu({request: [answers]})``: a tester link to a raw ECU that answers requests, functional
    or physical, from the script (on its physical response id) and ignores everything else."""
    opened: list[tuple] = []

    def start(script: dict[bytes, list[bytes]]) -> uds_client.TesterLink:
        channel = f"scripted-{uuid.uuid4().hex[:8]}"
        bus_config = BusConfig(interface="virtual", channel=channel)
        ecu = EcuConfig(bus="body", request_id=0x7E0, response_id=0x7E8, profile="p")
        buses = [open_bus("body", bus_config, channel=channel) for _ in range(2)]
        notifiers = [can.Notifier(bus, [], timeout=0.01) for bus in buses]
        profile = EcuProfile(bootloader="single_bank", timing=Timing(p2=0.5))  # answers well within P2server_max
        link = uds_client.TesterLink(ecu, profile, bus_config, buses[0], notifiers[0]).open()
        listen = make_stack(buses[1], notifiers[1], address(ecu, server=True, functional=True), bus_config,
                            max_frame_size=4095)
        answer = make_stack(buses[1], notifiers[1], address(ecu, server=True), bus_config, max_frame_size=4095)
        listen.start()
        answer.start()
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                request = listen.recv(block=False) or answer.recv(block=True, timeout=0.02)
                for reply in script.get(bytes(request), []) if request is not None else []:
                    answer.send(reply)
                    time.sleep(0.02)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        opened.append((link, listen, answer, stop, thread, notifiers, buses))
        return link

    yield start
    for link, listen, answer, stop, thread, notifiers, buses in opened:
        stop.set()
        thread.join()
        link.close()
        listen.stop()
        answer.stop()
        for notifier, bus in zip(notifiers, buses, strict=True):
            notifier.stop()
            bus.shutdown()


def test_an_ecu_refusing_pre_programming_fails_that_step(scripted_ecu) -> None:
    link = scripted_ecu({bytes.fromhex("85 82"): [bytes.fromhex("7F 85 78"), bytes.fromhex("7F 85 22")]})
    timeline = Timeline()
    with pytest.raises(FlashError, match=r"ControlDTCSetting off \(functional\) refused: NRC 0x22"):
        prepare_network("ecu", link, timeline)
    assert [s.name for s in timeline.steps] == ["DiagnosticSessionControl extended (functional)",
                                                "ControlDTCSetting off (functional)"]


def test_a_late_answer_to_the_previous_request_is_not_taken_for_this_ones(scripted_ecu) -> None:
    """The session change's 0x78 comes while the tester awaits ControlDTCSetting's answer (the ECU was
    late, e.g. on a loaded host): it is not ControlDTCSetting's answer; the refusal after it is."""
    link = scripted_ecu({bytes.fromhex("85 82"): [bytes.fromhex("7F 10 78"), bytes.fromhex("7F 85 22")]})
    with pytest.raises(FlashError, match=r"ControlDTCSetting off \(functional\) refused: NRC 0x22"):
        prepare_network("ecu", link, Timeline())
    link = scripted_ecu({bytes.fromhex("85 82"): [bytes.fromhex("7F 10 78")]})
    prepare_network("ecu", link, Timeline())


def test_a_late_answer_to_an_earlier_request_is_not_taken_for_a_physical_requests(scripted_ecu) -> None:
    """CommunicationControl's final answer, after a 0x78 the tester did not wait for (the batch's last
    functional request), arrives when the programming session is requested: that request's answer is
    the one after it."""
    link = scripted_ecu({bytes.fromhex("10 02"): [bytes.fromhex("68 03"), bytes.fromhex("50 02 00 19 01 F4")]})
    assert link.client.change_session(0x02).positive


def test_clearing_dtcs_takes_the_ecus_positive_answer(scripted_ecu) -> None:
    link = scripted_ecu({CLEAR_ALL_DTCS: [bytes.fromhex("54")]})
    timeline = Timeline()
    restore_network("ecu", link, timeline, clear_dtcs=True)
    assert timeline.steps[-1].detail == "answered 54"
