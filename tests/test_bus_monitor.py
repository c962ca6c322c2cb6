"""The passive bus monitor on real frame sequences: the bench's flasher and virtual ECUs, and
real can-isotp stacks on an isolated virtual bus for what a flash does not show by itself."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import can
import isotp
import pytest
from udsoncan.exceptions import NegativeResponseException

from bench.config import BusConfig, EcuConfig, load_bench
from bench.image import build_image
from bench.monitor import BusMonitor, UdsEvent, ecus_on_bus
from bench.rig import Bench
from bench.transport.isotp_link import address, stack_params
from bench.transport.virtual_bus import BenchVirtualBus

ROOT = Path(__file__).resolve().parent.parent
CAN20 = BusConfig(interface="virtual", channel="unused")
ECU = EcuConfig(bus="test", request_id=0x7E0, response_id=0x7E8, functional_id=0x7DF, profile="p")


def listener(channel: str | int, fd: bool, kind: str = "python-can") -> can.BusABC:
    """A bus handle of the monitor's own that fails the test if anything ever sends on it:
    python-can's virtual bus (read by the monitor's thread) or the bench's (frames handed over
    by the senders)."""
    protocol = can.CanProtocol.CAN_FD if fd else can.CanProtocol.CAN_20
    bus = (BenchVirtualBus(channel=channel, protocol=protocol) if kind == "bench"
           else can.Bus(interface="virtual", channel=channel, protocol=protocol))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the monitor transmitted: {args}")

    bus.send = refuse  # type: ignore[method-assign]
    return bus


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Bench]:
    """The virtual bench, with a ΔP2 a loaded host cannot make the tester miss (no block re-sent)."""
    with Bench(load_bench(ROOT / "fixtures/benches/virtual.yaml").with_network_margin(1.0), workdir=tmp_path) as bench:
        yield bench


@pytest.fixture
def watch(rig: Bench) -> Iterator[Callable[[str], tuple[BusMonitor, can.BusABC]]]:
    """``watch("body")``: a started monitor of that bus, and a witness bus recording every frame."""
    opened: list[tuple[BusMonitor, can.BusABC, can.BusABC]] = []

    def start(bus: str) -> tuple[BusMonitor, can.BusABC]:
        config = rig.config.buses[bus]
        witness = can.Bus(interface="virtual", channel=rig.channel(bus), protocol=can.CanProtocol.CAN_FD)
        monitor = BusMonitor(listener(rig.channel(bus), config.fd), config, ecus_on_bus(rig.config, bus))
        monitor.start()
        opened.append((monitor, monitor.bus, witness))
        return monitor, witness

    yield start
    for monitor, bus, witness in opened:
        monitor.stop()
        bus.shutdown()
        witness.shutdown()


@pytest.mark.parametrize(("bus", "ecu"), [("body", "bcm"), ("powertrain", "bms")])
def test_flash_transcript_in_order_with_reassembled_blocks(rig: Bench, watch, bus: str, ecu: str) -> None:
    monitor, witness = watch(bus)
    image = build_image(ROOT / "fixtures/firmware/app-2.0.0.yaml").to_bytes()
    handle = rig.ecu(ecu)
    result = handle.flasher.flash(build_image(ROOT / "fixtures/firmware/app-2.0.0.yaml"))
    monitor.wait_for(lambda e: e.kind == "response" and e.did == 0xF189 and bool(e.positive), timeout=5)
    monitor.stop()
    events = [e for e in monitor.events() if not e.functional]  # keepalive TesterPresent: timing-dependent

    requests = [e.service for e in events if e.kind == "request"]
    blocks = math.ceil(len(image) / result.block_size)
    assert requests[:requests.index("ECUReset") + 1] == [
        "ReadDataByIdentifier", "DiagnosticSessionControl",  # pre-programming itself is functional
        "SecurityAccess", "SecurityAccess", "WriteDataByIdentifier", "RoutineControl", "RequestDownload",
        *["TransferData"] * blocks, "RequestTransferExit", "RoutineControl", "RoutineControl", "ECUReset"]
    reset = next(i for i, e in enumerate(events) if e.service == "ECUReset" and e.kind == "response")
    programming = events[:reset + 1]
    for request, response in zip(programming[0::2], programming[1::2]):  # each answered before the next
        assert (request.kind, response.kind, response.sid, response.positive) == \
            ("request", "response", request.sid, True)
    assert all(e.ecu == ecu for e in events)

    transfers = [e for e in events if e.service == "TransferData" and e.kind == "request"]
    assert [e.block_index for e in transfers] == list(range(1, blocks + 1))
    assert [e.block_counter for e in transfers] == [(i + 1) & 0xFF for i in range(blocks)]
    assert [e.download_offset for e in transfers] == [i * result.block_size for i in range(blocks)]
    assert [e.data_length for e in transfers[:-1]] == [result.block_size + 2] * (blocks - 1)
    assert b"".join(e.payload[2:] for e in transfers) == image
    answers = [e for e in events if e.service == "TransferData" and e.kind == "response"]
    assert [e.block_index for e in answers] == list(range(1, blocks + 1))
    assert [e.routine for e in events if e.service == "RoutineControl"] == [0xFF00] * 2 + [0x0202] * 2 + [0xFF01] * 2
    assert monitor.errors == [] and monitor.callback_errors == []

    # Listen-only: one flow control per multi-frame message (the receiver's), none from the monitor.
    req, resp = handle.config.request_id, handle.config.response_id
    frames = [f for f in iter(lambda: witness.recv(timeout=0), None) if f.arbitration_id in (req, resp)]
    first = Counter(f.arbitration_id for f in frames if f.data[0] >> 4 == 1)
    flow = Counter(f.arbitration_id for f in frames if f.data[0] >> 4 == 3)
    assert first[req] >= blocks
    assert (flow[resp], flow[req]) == (first[req], first[resp])


def test_wrong_key_and_functional_tester_present(rig: Bench, watch) -> None:
    monitor, _ = watch("body")
    bcm = rig.ecu("bcm")
    bcm.uds.change_session(3)
    bcm.uds.request_seed(0x11)
    with pytest.raises(NegativeResponseException):
        bcm.uds.send_key(0x12, b"\x00\x00\x00\x00")
    refused = monitor.wait_for(lambda e: e.nrc is not None, timeout=3)
    assert (refused.service, refused.sid, refused.nrc, refused.positive) == ("SecurityAccess", 0x27, 0x35, False)
    assert refused.subfunction == 0x12 and "NRC 0x35 (InvalidKey)" in refused.describe()

    bcm.link.tester_present_functional()
    present = monitor.wait_for(lambda e: e.functional, timeout=3)
    assert (present.ecu, present.kind, present.service) == ("bcm", "request", "TesterPresent")
    assert present.payload == b"\x3e\x80"
    assert present.suppress_response and present.subfunction == 0x00


class Pair:
    """A tester and an ECU made of real can-isotp stacks on an isolated virtual bus."""

    def __init__(self, channel: str) -> None:
        params = stack_params(CAN20, max_frame_size=0xFFF)
        self.buses = [can.Bus(interface="virtual", channel=channel) for _ in range(3)]
        self.tester = isotp.CanStack(self.buses[0], address=address(ECU, server=False), params=params)
        self.ecu = isotp.CanStack(self.buses[1], address=address(ECU, server=True), params=params)
        self.functional = isotp.CanStack(self.buses[2], address=address(ECU, server=False, functional=True),
                                         params=params)
        for stack in (self.tester, self.ecu, self.functional):
            stack.start()

    def exchange(self, request: bytes, *responses: bytes) -> None:
        self.tester.send(request)
        assert self.ecu.recv(block=True, timeout=2) == request
        for response in responses:
            self.ecu.send(response)
            assert self.tester.recv(block=True, timeout=2) == response

    def close(self) -> None:
        for stack in (self.tester, self.ecu, self.functional):
            stack.stop()
        for bus in self.buses:
            bus.shutdown()


@pytest.fixture(params=["python-can", "bench"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[Pair, BusMonitor, can.BusABC]]:
    """Tester and ECU stacks, a started monitor of their bus (on python-can's virtual bus or the
    bench's), and a raw bus to inject frames."""
    channel = f"monitor-test-{uuid.uuid4().hex[:8]}"
    stacks = Pair(channel)
    monitor = BusMonitor(listener(channel, fd=False, kind=request.param), CAN20, {"ecu": ECU})
    injector = can.Bus(interface="virtual", channel=channel)
    monitor.start()
    yield stacks, monitor, injector
    monitor.stop()
    stacks.close()
    monitor.bus.shutdown()
    injector.shutdown()


def test_block_counter_wraps_and_index_keeps_counting(pair) -> None:
    stacks, monitor, _ = pair
    stacks.exchange(b"\x36\x07" + bytes(12), b"\x7f\x36\x24")  # before any RequestDownload: index unknown
    stacks.exchange(bytes.fromhex("34 00 44 00 08 00 00 00 00 10 00"), bytes.fromhex("74 20 00 0e"))
    for index in range(1, 261):
        data = index.to_bytes(2, "big") * 6
        stacks.exchange(bytes([0x36, index & 0xFF]) + data, bytes([0x76, index & 0xFF]))
        if index == 5:  # response lost, tester repeats the block: same index and offset
            stacks.exchange(bytes([0x36, 5]) + data, bytes([0x76, 5]))
    monitor.wait_for(lambda e: e.kind == "response" and e.block_index == 260, timeout=5)

    events = monitor.events()
    assert events[0].block_index is None and events[1].block_counter == 0x07 and events[1].nrc == 0x24
    blocks = [e for e in events[4:] if e.kind == "request"]
    assert [e.block_index for e in blocks] == [1, 2, 3, 4, 5, 5, *range(6, 261)]
    assert [e.download_offset for e in blocks[:7]] == [0, 12, 24, 36, 48, 48, 60]
    assert [(e.block_index, e.block_counter) for e in blocks if e.block_index in (255, 256, 257)] == \
        [(255, 0xFF), (256, 0x00), (257, 0x01)]
    assert blocks[-1].download_offset == 259 * 12
    answers = [e for e in events[4:] if e.kind == "response"]
    assert [e.block_index for e in answers] == [e.block_index for e in blocks]
    assert "#256 ctr=0x00 off=0xBF4 14 B" in blocks[256].describe()
    assert monitor.errors == []


def test_response_pending_before_the_final_answer(pair) -> None:
    stacks, monitor, _ = pair
    erase = bytes.fromhex("31 01 ff 00 44 00 08 00 00 00 01 10 00")
    stacks.exchange(erase, b"\x7f\x31\x78", b"\x7f\x31\x78", bytes.fromhex("71 01 ff 00 00"))
    final = monitor.wait_for(lambda e: bool(e.positive), timeout=3)
    request, *pending = monitor.events()[:3]
    assert (request.kind, request.routine, request.subfunction, request.data_length) == ("request", 0xFF00, 1, 13)
    assert [(e.nrc, e.pending, e.routine, e.sid) for e in pending] == [(0x78, True, 0xFF00, 0x31)] * 2
    assert pending[0].describe() == \
        "ecu ← 7F 31 78 RoutineControl rid=0xFF00 NRC 0x78 (RequestCorrectlyReceived-ResponsePending)"
    assert (final.routine, final.nrc, final.pending) == (0xFF00, None, False)


def test_malformed_stream_is_recorded_and_the_monitor_keeps_going(pair) -> None:
    stacks, monitor, injector = pair
    for data in ("42 00",                         # no such frame type
                 "21 01 02 03 04 05 06 07",       # consecutive frame without a first frame
                 "10 0a 36 01 00 00 00 00",       # first frame...
                 "02 3e 00"):                     # ...interrupted by a single frame
        injector.send(can.Message(arbitration_id=0x7E0, data=bytes.fromhex(data), is_extended_id=False))
    present = monitor.wait_for(lambda e: e.service == "TesterPresent", timeout=3)
    assert present.payload == b"\x3e\x00"
    assert [error.split(": ")[1] for error in monitor.errors] == [  # all recorded before the event
        "InvalidCanDataError", "UnexpectedConsecutiveFrameError", "ReceptionInterruptedWithSingleFrameError"]
    assert "ecu request 0x7E0" in monitor.errors[0]

    assert stacks.ecu.recv(block=True, timeout=2) == b"\x3e\x00"  # the ECU's stack heard the injection too
    stacks.exchange(b"\x22\xf1\x89", b"\x62\xf1\x89" + b"2.0.0")
    assert monitor.wait_for(lambda e: e.kind == "response", timeout=3).did == 0xF189


def test_subscriber_errors_never_stop_the_monitor(pair) -> None:
    stacks, monitor, _ = pair
    seen: list[UdsEvent] = []

    def broken(event: UdsEvent) -> None:
        raise ValueError(f"trigger bug on {event.service}")

    monitor.subscribe(broken)
    monitor.subscribe(seen.append)
    stacks.exchange(b"\x10\x02", bytes.fromhex("50 02 00 32 01 f4"))
    stacks.functional.send(b"\x3e\x80")
    monitor.wait_for(lambda e: e.functional, timeout=3)  # sent by the stack's thread: let it go out first
    stacks.exchange(b"\x11\x01", b"\x51\x01")
    monitor.wait_for(lambda e: e.service == "ECUReset" and e.kind == "response", timeout=3)
    assert [(e.kind, e.service, e.functional) for e in seen] == [
        ("request", "DiagnosticSessionControl", False), ("response", "DiagnosticSessionControl", False),
        ("request", "TesterPresent", True), ("request", "ECUReset", False), ("response", "ECUReset", False)]
    assert seen == monitor.events()
    assert len(monitor.callback_errors) == 5 and "trigger bug on ECUReset" in monitor.callback_errors[-1]
    monitor.unsubscribe(broken)
    stacks.exchange(b"\x3e\x00", b"\x7e\x00")
    monitor.wait_for(lambda e: e.service == "TesterPresent" and e.kind == "response", timeout=3)
    assert len(seen) == 7 and len(monitor.callback_errors) == 5
    assert monitor.errors == []


def test_nobody_asking_decodes_later_the_same_events_at_their_arrival_times(pair) -> None:
    """A monitor nobody subscribes to or waits on keeps the frames; asked, it gives the transcript a
    live monitor of the same bus gave, each event at the moment its last frame arrived."""
    stacks, live, _ = pair
    seen: list[UdsEvent] = []
    live.subscribe(seen.append)
    lazy = BusMonitor(listener(live.bus.channel_id, fd=False, kind="bench" if isinstance(live.bus, BenchVirtualBus)
                               else "python-can"), CAN20, {"ecu": ECU}, name="lazy")
    lazy.start()
    try:
        stacks.exchange(bytes.fromhex("34 00 44 00 08 00 00 00 00 10 00"), bytes.fromhex("74 20 00 0e"))
        for counter in (1, 2, 3):
            stacks.exchange(bytes([0x36, counter]) + bytes(range(40)), bytes([0x76, counter]))
        live.wait_for(lambda e: e.kind == "response" and e.block_index == 3, timeout=3)
        lazy.stop()  # its thread joined: every frame it kept arrived before now (its own thread may lag the live one)
        asked = time.monotonic()
        assert lazy.frames_seen > 0 and not lazy._transcript  # kept, not decoded: nobody asked
        events = lazy.events()
    finally:
        lazy.stop()
        lazy.bus.shutdown()
    assert [(e.kind, e.payload, e.block_index, e.download_offset) for e in events] == \
        [(e.kind, e.payload, e.block_index, e.download_offset) for e in seen]
    assert [e.time for e in events] == sorted(e.time for e in events) and events[-1].time <= asked  # not the asking
    assert lazy.errors == [] and live.errors == []


def test_a_timeout_between_kept_frames_is_reported_as_the_live_monitor_does(pair) -> None:
    stacks, live, injector = pair
    live.subscribe(lambda event: None)
    lazy = BusMonitor(listener(live.bus.channel_id, fd=False, kind="bench" if isinstance(live.bus, BenchVirtualBus)
                               else "python-can"), CAN20, {"ecu": ECU}, name="lazy")
    lazy.start()
    try:
        injector.send(can.Message(arbitration_id=0x7E0, data=bytes.fromhex("10 0a 36 01 00 00 00 00"),
                                  is_extended_id=False))  # a first frame, and no consecutive frame
        time.sleep(1.2)  # past N_Cr (1 s): the live monitor's idle check reports it
        injector.send(can.Message(arbitration_id=0x7E0, data=bytes.fromhex("02 3e 00"), is_extended_id=False))
        live.wait_for(lambda e: e.service == "TesterPresent", timeout=3)
        lazy.stop()
        assert not lazy._transcript
        present = lazy.events()
        assert [e.payload for e in present] == [e.payload for e in live.events()] == [b"\x3e\x00"]
    finally:
        lazy.stop()
        lazy.bus.shutdown()
    assert [error.split(": ")[1] for error in lazy.errors] == [error.split(": ")[1] for error in live.errors] == [
        "ConsecutiveFrameTimeoutError"]
    assert lazy._started is not None and lazy._started + float(lazy.errors[0].split()[0]) <= present[0].time


def test_a_long_backlog_nobody_asks_for_is_decoded_so_memory_stays_bounded(pair, monkeypatch) -> None:
    from bench.monitor import bus_monitor

    stacks, live, _ = pair
    monkeypatch.setattr(bus_monitor, "KEEP_AT_MOST", 10)
    lazy = BusMonitor(listener(live.bus.channel_id, fd=False, kind="bench" if isinstance(live.bus, BenchVirtualBus)
                               else "python-can"), CAN20, {"ecu": ECU}, name="lazy")
    lazy.start()
    try:
        for counter in (1, 2, 3):  # 40 data bytes: 6 frames, a flow control and a single frame each
            stacks.exchange(bytes([0x36, counter]) + bytes(40), bytes([0x76, counter]))
        live.wait_for(lambda e: e.kind == "response" and e.block_counter == 3, timeout=3)
        lazy.stop()
        assert len(lazy._kept) < 10 and len(lazy._transcript) >= 3  # decoded on the way, not all kept
        assert [e.payload for e in lazy.events()] == [e.payload for e in live.events()]
    finally:
        lazy.stop()
        lazy.bus.shutdown()


def test_on_the_bench_bus_kept_frames_never_wake_the_thread_and_keep_their_order(pair, monkeypatch) -> None:
    """Frames nobody decodes live are kept by the sending thread; frames queued for the thread
    while someone subscribed are still kept before the ones after, when the subscriber leaves."""
    stacks, monitor, _ = pair
    if not isinstance(monitor.bus, BenchVirtualBus):
        pytest.skip("python-can's virtual bus has no sender-side delivery: every frame goes through the thread")
    taken_by = []
    keep, arrived = monitor._keep, monitor._arrived

    def record_keep(arrivals: list) -> None:
        taken_by.extend(threading.current_thread().name for _ in arrivals)
        keep(arrivals)

    def record_arrived(frame: can.Message, **kwargs: object) -> None:
        taken_by.append(threading.current_thread().name)
        arrived(frame, **kwargs)

    monkeypatch.setattr(monitor, "_keep", record_keep)
    monkeypatch.setattr(monitor, "_arrived", record_arrived)
    stacks.exchange(bytes.fromhex("22 F1 89"), bytes.fromhex("62 F1 89 31 2E 30"))
    assert taken_by and monitor.name not in " ".join(taken_by)  # no frame through the monitor's thread
    seen: list[UdsEvent] = []
    subscriber = seen.append  # the same object to unsubscribe
    monitor.subscribe(subscriber)
    stacks.exchange(bytes([0x36, 1]) + bytes(range(40)), bytes([0x76, 1]))
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:  # the thread decodes them live, in its own time
        time.sleep(0.01)
    monitor.unsubscribe(subscriber)
    stacks.exchange(bytes([0x36, 2]) + bytes(range(40)), bytes([0x76, 2]))
    events = monitor.events()
    assert [e.payload[:2] for e in events] == [b"\x22\xf1", b"\x62\xf1", b"\x36\x01", b"\x76\x01", b"\x36\x02",
                                               b"\x76\x02"]
    assert monitor.errors == [] and len(seen) == 2
