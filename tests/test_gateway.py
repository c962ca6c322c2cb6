"""The CAN gateway: its fault pipeline on an injected clock (no threads), then live on virtual buses."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from types import SimpleNamespace

import can
import isotp
import pytest

from bench.errors import ConfigError
from bench.gateway import bridge
from bench.transport.virtual_bus import BenchVirtualBus
from bench.gateway import DIRECTIONS, REORDER_HOLD, Direction, FaultPipeline, Gateway

ID = 0x7E0


@dataclass
class Clock:
    now: float = 0.0
    def __call__(self) -> float:
        return self.now


def frame(n: int = 0, can_id: int = ID) -> can.Message:
    return can.Message(arbitration_id=can_id, data=bytes([n, 1, 2, 3, 4, 5, 6, 7]), is_extended_id=False)


def run(pipe: FaultPipeline, n: int = 6, direction: str = "to_ecu", now: float = 0.0, can_id: int = ID) -> list[int]:
    """Frames 0..n-1 through the pipeline: the numbers of those sent on, in sending order."""
    return [m.data[0] for i in range(n) for _, m in pipe.process(direction, frame(i, can_id), now)]


def flipped(original: can.Message, sent: can.Message) -> list[int]:
    return [i for i, (a, b) in enumerate(zip(original.data, sent.data, strict=True)) if a != b]


def buses(*sides: str) -> list[can.BusABC]:
    token = uuid.uuid4().hex
    return [can.Bus(interface="virtual", channel=f"{side}-{token}", protocol=can.CanProtocol.CAN_FD) for side in sides]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gw(clock: Clock) -> Iterator[Gateway]:
    """A gateway never started: its typed fault API over a pipeline on the injected clock."""
    sides = buses("tester", "ecu")
    gateway = Gateway(*sides)
    gateway.pipeline = FaultPipeline(clock)
    yield gateway
    for bus in sides:
        bus.shutdown()


def test_drop_spends_its_count_selects_frames_and_reports_each(gw: Gateway, clock: Clock) -> None:
    clock.now = 3.0
    handle = gw.drop(2)
    assert run(gw.pipeline, now=3.0) == [2, 3, 4, 5]
    assert handle.affected == 2 and not handle.active and handle.wait_done(0)
    events = gw.pipeline.take_events()
    assert [(e.time, e.direction, e.action, e.arbitration_id, e.data[0]) for e in events] == [
        (3.0, "to_ecu", "dropped", ID, 0), (3.0, "to_ecu", "dropped", ID, 1)]
    assert "drop(count=2" in events[0].detail and gw.counters()["to_ecu"]["dropped"] == 2
    gw.drop(None, direction="to_tester", match=lambda m: m.arbitration_id == 0x7E8)
    assert run(gw.pipeline, 3, "to_ecu", can_id=0x7E8) == [0, 1, 2]
    assert run(gw.pipeline, 3, "to_tester", can_id=0x7E9) == [0, 1, 2]
    assert run(gw.pipeline, 3, "to_tester", can_id=0x7E8) == []


def test_drop_ratio_is_reproducible_per_seed(clock: Clock) -> None:
    def survivors(seed: int) -> list[int]:
        pipe = FaultPipeline(clock)
        pipe.arm("drop_ratio", ratio=0.5, seed=seed)
        return run(pipe, 64)
    assert survivors(7) == survivors(7) != survivors(8) and 0 < len(survivors(7)) < 64


@pytest.mark.parametrize("kind, direction", [("partition", "to_ecu"), ("partition", "both"), ("bus_off", "both")])
def test_link_down_stops_its_direction_for_a_while(gw: Gateway, clock: Clock, kind: str, direction: Direction) -> None:
    clock.now = 10.0
    spare = gw.drop(1)  # armed first, but a frame that cannot cross never reaches it
    handle = gw.partition(2.0, direction=direction) if kind == "partition" else gw.bus_off(2.0)
    for side in DIRECTIONS:
        assert run(gw.pipeline, 2, side, now=11.9) == ([] if direction in (side, "both") else [1])
    assert {e.action for e in gw.pipeline.take_events() if e.detail == handle.name} == {
        "partitioned" if kind == "partition" else "bus-off"}
    assert spare.affected == (0 if direction == "both" else 1) and handle.active and not handle.wait_done(0)
    clock.now = 12.0  # its duration counts from arming
    assert not handle.active and handle.wait_done(0)
    assert run(gw.pipeline, 3, now=12.0) == ([1, 2] if direction == "both" else [0, 1, 2]) and not gw.pipeline.armed


def test_delay_keeps_each_direction_in_order_until_a_partition_stops_the_queue(gw: Gateway) -> None:
    gw.delay(0.010, count=1)
    out = gw.pipeline.process("to_ecu", frame(0), 0.0) + gw.pipeline.process("to_ecu", frame(1), 0.001)
    assert [(due, m.data[0]) for due, m in out] == [(0.010, 0), (0.010, 1)]  # frame 1 waits behind frame 0
    assert [due for due, _ in gw.pipeline.process("to_tester", frame(2), 0.001)] == [0.001]
    gw.partition(1.0)  # armed while frame 0 waits: stops it at transmit time
    assert not gw.pipeline.gate("to_ecu", out[0][1], 0.010)
    assert [e.action for e in gw.pipeline.take_events()] == ["delayed", "partitioned"]


def test_reorder_swaps_a_frame_with_the_next_or_releases_it_alone(gw: Gateway) -> None:
    gw.reorder(2)
    assert run(gw.pipeline, 5) == [1, 0, 3, 2, 4]
    assert gw.counters()["to_ecu"]["reordered"] == 2
    gw.reorder()
    assert gw.pipeline.process("to_ecu", frame(), 0.0) == []
    assert gw.pipeline.poll("to_ecu", REORDER_HOLD / 2) == [] and gw.pipeline.next_deadline("to_ecu") == REORDER_HOLD
    assert [m.data[0] for _, m in gw.pipeline.poll("to_ecu", REORDER_HOLD)] == [0] and not gw.pipeline.armed


def test_corrupt_flips_exactly_one_byte_chosen_by_index_or_seed(gw: Gateway, clock: Clock) -> None:
    handle = gw.corrupt(byte_index=2, xor=0x0F)
    [(_, sent)] = gw.pipeline.process("to_ecu", frame(), 0.0)
    assert flipped(frame(), sent) == [2] and sent.data[2] == frame().data[2] ^ 0x0F
    assert handle.affected == 1 and "byte 2 0x02 -> 0x0d" in gw.pipeline.take_events()[0].detail
    short = gw.corrupt(byte_index=9)  # no byte 9 in an 8-byte frame: it passes, the count is kept
    assert run(gw.pipeline, 1) == [0] and short.affected == 0

    def picked(seed: int) -> list[list[int]]:
        pipe = FaultPipeline(clock)
        pipe.arm("corrupt", byte_index=None, xor=0xFF, seed=seed, count=None)
        return [flipped(frame(), pipe.process("to_ecu", frame(), 0.0)[0][1]) for _ in range(8)]
    assert picked(3) == picked(3) != picked(4) and all(len(index) == 1 for index in picked(3))


def test_faults_act_in_arming_order_until_cancelled(gw: Gateway) -> None:
    gw.corrupt(byte_index=0, xor=0x80)
    gw.duplicate()
    assert [m.data[0] for _, m in gw.pipeline.process("to_ecu", frame(1), 0.0)] == [0x81, 0x81]
    gw.drop()
    late = gw.duplicate()
    assert run(gw.pipeline, 1) == [] and late.affected == 0  # a drop ends the pipeline
    gw.clear()
    first, second = gw.drop(None), gw.duplicate(None)
    first.cancel()
    assert not first.active and first.wait_done(0) and run(gw.pipeline, 1) == [0, 0]
    gw.clear()
    assert not second.active and run(gw.pipeline, 2) == [0, 1] and not gw.pipeline.armed


def test_gateway_refuses_to_loop_a_channel_onto_itself(gw: Gateway) -> None:
    with pytest.raises(ConfigError, match="same channel"):
        Gateway(gw.tester_bus, gw.tester_bus)
    echoing = can.Bus(interface="virtual", channel=f"x-{uuid.uuid4().hex}", receive_own_messages=True)
    with pytest.raises(ConfigError, match="receives its own messages"):
        Gateway(gw.tester_bus, echoing)
    echoing.shutdown()


@pytest.fixture
def rig() -> Iterator[SimpleNamespace]:
    tester, gw_tester, gw_ecu, ecu = sides = buses("tester", "tester", "ecu", "ecu")
    with Gateway(gw_tester, gw_ecu) as gateway:
        yield SimpleNamespace(tester=tester, ecu=ecu, gateway=gateway)
    for bus in sides:
        bus.shutdown()
    assert gateway.fault is None


def receive(bus: can.BusABC, n: int, within: float = 5.0) -> list[can.Message]:
    got: list[can.Message] = []
    deadline = time.monotonic() + within
    while len(got) < n and (msg := bus.recv(max(0.0, deadline - time.monotonic()))) is not None:
        got.append(msg)
    return got


def eventually(condition: Callable[[], bool], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.001)
    return condition()


def test_frames_cross_faithfully_and_never_come_back(rig: SimpleNamespace) -> None:
    sent = [can.Message(arbitration_id=0x18DA10F1, is_extended_id=True, data=b"\x02\x10\x03"),
            can.Message(arbitration_id=ID, is_extended_id=False, is_fd=True, bitrate_switch=True, data=bytes(48)),
            can.Message(arbitration_id=0x123, is_extended_id=False, data=b"")]
    for msg in sent:
        rig.tester.send(msg)
    fields = attrgetter("arbitration_id", "is_extended_id", "is_fd", "bitrate_switch", "dlc", "data")
    assert [fields(m) for m in receive(rig.ecu, 3)] == [fields(m) for m in sent]
    rig.ecu.send(frame(9, 0x7E8))  # an echo of the tester's frames would reach the tester before this
    assert [(m.arbitration_id, m.data[0]) for m in receive(rig.tester, 1)] == [(0x7E8, 9)]
    assert eventually(lambda: rig.gateway.counters()["to_ecu"]["forwarded"] == 3)


def test_live_drop_delay_bus_off_and_events(rig: SimpleNamespace) -> None:
    events: list[object] = []
    rig.gateway.subscribe(events.append)
    dropped = rig.gateway.drop(1, direction="to_ecu", match=lambda m: m.data[0] == 1)
    rig.gateway.delay(0.005, direction="to_tester")
    for i in range(20):
        rig.tester.send(frame(i))
        rig.ecu.send(frame(i, 0x7E8))
    assert [m.data[0] for m in receive(rig.ecu, 19)] == [i for i in range(20) if i != 1]
    assert [m.data[0] for m in receive(rig.tester, 20)] == list(range(20))
    assert dropped.wait_done(5.0) and eventually(lambda: len(events) == 21)
    assert eventually(lambda: rig.gateway.counters()["to_tester"]["forwarded"] == 20)
    rig.gateway.clear()
    handle = rig.gateway.bus_off(60.0)  # then recovers: cancelled, or by its duration
    rig.tester.send(frame(0))
    rig.ecu.send(frame(0, 0x7E8))
    assert eventually(lambda: handle.affected == 2)
    handle.cancel()
    assert rig.gateway.bus_off(0.02).wait_done(5.0)
    rig.tester.send(frame(1))
    assert [m.data[0] for m in receive(rig.ecu, 1)] == [1]


@pytest.mark.parametrize("fault", ["clean", "delay-5ms", "drop-one-consecutive-frame"])
def test_isotp_4k_through_the_gateway(rig: SimpleNamespace, fault: str) -> None:
    errors: list[Exception] = []
    notifiers = [can.Notifier(rig.tester, [], timeout=0.05), can.Notifier(rig.ecu, [], timeout=0.05)]
    tester, ecu = (isotp.NotifierBasedCanStack(bus, notifier, address=isotp.Address(txid=tx, rxid=rx),
                                               error_handler=errors.append if bus is rig.ecu else None,
                                               params={"stmin": 0, "blocksize": 0, "max_frame_size": 8192})
                   for bus, notifier, tx, rx in ((rig.tester, notifiers[0], ID, 0x7E8),
                                                 (rig.ecu, notifiers[1], 0x7E8, ID)))
    if fault == "delay-5ms":
        rig.gateway.delay(0.005)
    if fault == "drop-one-consecutive-frame":  # the consecutive frame with sequence number 5
        rig.gateway.drop(1, direction="to_ecu", match=lambda m: m.data[0] == 0x25)
    payload = bytes(i % 251 for i in range(4096))
    for stack in (tester, ecu):
        stack.start()
    try:
        tester.send(payload)
        if fault == "drop-one-consecutive-frame":
            assert eventually(lambda: any(isinstance(e, isotp.errors.WrongSequenceNumberError) for e in errors))
            assert eventually(lambda: not tester.transmitting()) and ecu.recv() is None  # the message is lost
        else:
            assert ecu.recv(block=True, timeout=10.0) == payload and not errors
    finally:
        for stop in (tester.stop, ecu.stop, *(notifier.stop for notifier in notifiers)):
            stop()


def test_an_idle_gateway_sleeps_until_a_fault_is_armed_or_it_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the bench's virtual buses a forwarding thread with no frame to hold does not poll
    (``IDLE_WAIT``, made an hour here), with or without a fault armed; a frame that needs it
    (a delay) wakes it, and stopping wakes it to end (else ``stop()`` would find it still running
    and raise)."""
    monkeypatch.setattr(bridge, "IDLE_WAIT", 3600.0)
    token = uuid.uuid4().hex
    tester, gw_tester, gw_ecu, ecu = sides = [BenchVirtualBus(f"{side}-{token}")
                                              for side in ("tester", "tester", "ecu", "ecu")]
    reads = []
    for side in (gw_tester, gw_ecu):
        monkeypatch.setattr(side, "recv", lambda timeout=None, _recv=side.recv: reads.append(timeout) or _recv(timeout))
    gateway = Gateway(gw_tester, gw_ecu)
    try:
        gateway.start()
        assert eventually(lambda: len(reads) >= 2)  # each thread waits in its first read
        time.sleep(0.2)  # a thread polling every RECV_POLL would read 20 times a side meanwhile
        assert set(reads) == {3600.0} and len(reads) <= 4
        dropping = gateway.drop(None, direction="to_tester")
        tester.send(frame(1))
        assert [m.data[0] for m in receive(ecu, 1)] == [1]
        assert set(reads) == {3600.0} and len(reads) <= 4  # crossed in the sender's thread, through the fault
        gateway.delay(0.01, direction="to_ecu")
        tester.send(frame(2))  # held by the thread, sent when due: not an hour later
        assert [m.data[0] for m in receive(ecu, 1)] == [2]
        dropping.cancel()
    finally:
        gateway.stop()
        for bus in sides:
            bus.shutdown()
    assert gateway.fault is None and not gateway.running


def test_a_frame_held_by_a_fault_armed_while_it_crossed_still_leaves_when_due(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender's thread read "no fault holds frames" just before a delay was armed: the frame
    it then put in the lane's hold is sent by the forwarding thread, woken for it, when due (not
    when the thread's idle wait, an hour here, ends)."""
    monkeypatch.setattr(bridge, "IDLE_WAIT", 3600.0)
    token = uuid.uuid4().hex
    tester, gw_tester, gw_ecu, ecu = sides = [BenchVirtualBus(f"{side}-{token}")
                                              for side in ("tester", "tester", "ecu", "ecu")]
    gateway = Gateway(gw_tester, gw_ecu)
    try:
        gateway.start()
        gateway.delay(0.02, direction="to_ecu")
        gateway.pipeline.holds = False  # as the sender read it before the delay was armed
        tester.send(frame(3))
        assert [m.data[0] for m in receive(ecu, 1)] == [3]
    finally:
        gateway.stop()
        for bus in sides:
            bus.shutdown()
    assert gateway.fault is None
