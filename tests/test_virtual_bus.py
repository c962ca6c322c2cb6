"""The bench's virtual bus: python-can semantics, sender-side filters, bitrate pacing."""

from __future__ import annotations

import uuid

import can
import isotp
import pytest

from bench.transport import virtual_bus
from bench.transport.virtual_bus import PACING_LEAD, BenchVirtualBus, frame_bits


@pytest.fixture
def channel() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def frame(can_id: int = 0x7E0, size: int = 8, *, fd: bool = False, brs: bool = False) -> can.Message:
    return can.Message(arbitration_id=can_id, data=bytes(range(size)), is_extended_id=False, is_fd=fd,
                       bitrate_switch=brs)


def test_frame_bits_follow_the_can_frame_formats() -> None:
    assert frame_bits(frame(size=8)) == (111, 0)  # 47 + 64: the classic 8-byte frame
    assert frame_bits(frame(size=0)) == (47, 0)
    extended = can.Message(arbitration_id=0x18DA10F1, data=bytes(8), is_extended_id=True)
    assert frame_bits(extended) == (131, 0)
    assert frame_bits(frame(size=64, fd=True, brs=True)) == (17 + 12, 1 + 4 + 512 + 4 + 21 + 1)
    assert frame_bits(frame(size=16, fd=True)) == (17 + 1 + 4 + 128 + 4 + 17 + 1 + 12, 0)


def test_every_receiver_gets_the_frame_and_plain_virtual_peers_interoperate(channel: str) -> None:
    sender = BenchVirtualBus(channel)
    ours = BenchVirtualBus(channel)
    plain = can.Bus(interface="virtual", channel=channel)
    try:
        sent = frame()
        sender.send(sent)
        sent.data[0] = 0xFF  # the sender reuses its message: receivers keep what was sent
        for receiver in (ours, plain):
            got = receiver.recv(timeout=1)
            assert got is not None and got.data[0] == 0 and got.is_rx and got.channel == channel
        plain.send(frame(0x123))
        assert sender.recv(timeout=1).arbitration_id == 0x123
        assert sender.recv(timeout=0) is None  # never its own frames
    finally:
        for bus in (sender, ours, plain):
            bus.shutdown()


def test_filters_are_applied_by_the_sender(channel: str) -> None:
    sender = BenchVirtualBus(channel)
    picky = BenchVirtualBus(channel, can_filters=[{"can_id": 0x7E8, "can_mask": 0x7FF, "extended": False}])
    try:
        sender.send(frame(0x7E0))
        sender.send(frame(0x7E8))
        assert picky.queue.qsize() == 1  # the foreign frame never reached its queue
        assert picky.recv(timeout=1).arbitration_id == 0x7E8
        picky.set_filters(None)
        sender.send(frame(0x7E0))
        assert picky.recv(timeout=1).arbitration_id == 0x7E0
    finally:
        sender.shutdown()
        picky.shutdown()


class FakeTime:
    """A clock that moves only when the bus sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacing_holds_the_wire_for_each_frames_duration(channel: str) -> None:
    fake = FakeTime()
    sender = BenchVirtualBus(channel, bitrate=500_000, pace=True, clock=fake.clock, sleep=fake.sleep)
    other = BenchVirtualBus(channel, bitrate=500_000, pace=True, clock=fake.clock, sleep=fake.sleep)
    try:
        for _ in range(1000):
            sender.send(frame())
            other.send(frame(0x7E8))  # one wire: the two senders take turns
        wire_time = 2000 * 111 / 500_000
        assert fake.now - 100.0 == pytest.approx(wire_time - PACING_LEAD, abs=2 * PACING_LEAD)
        assert all(pause >= PACING_LEAD for pause in fake.slept)  # no sleeping frame by frame
    finally:
        sender.shutdown()
        other.shutdown()
    assert channel not in virtual_bus._clocks  # noqa: SLF001 - thousands of channels a night must not pile up


def test_pacing_uses_the_data_bitrate_for_the_fd_data_phase(channel: str) -> None:
    fake = FakeTime()
    bus = BenchVirtualBus(channel, bitrate=500_000, data_bitrate=2_000_000, pace=True,
                          clock=fake.clock, sleep=fake.sleep)
    try:
        for _ in range(100):
            bus.send(frame(size=64, fd=True, brs=True))
        nominal, fast = frame_bits(frame(size=64, fd=True, brs=True))
        assert fake.now - 100.0 == pytest.approx(100 * (nominal / 500_000 + fast / 2_000_000) - PACING_LEAD,
                                                 abs=2 * PACING_LEAD)
    finally:
        bus.shutdown()


def test_unpaced_buses_never_sleep(channel: str) -> None:
    fake = FakeTime()
    bus = BenchVirtualBus(channel, clock=fake.clock, sleep=fake.sleep)
    try:
        for _ in range(100):
            bus.send(frame())
        assert fake.slept == []
    finally:
        bus.shutdown()


def test_pacing_is_for_virtual_buses_only() -> None:
    from pydantic import ValidationError

    from bench.config.models import BusConfig

    assert BusConfig(interface="virtual", channel="x", pace=True).pace
    with pytest.raises(ValidationError, match="virtual buses only"):
        BusConfig(interface="socketcan", channel="vcan0", pace=True)


FIELDS = ("arbitration_id", "data", "dlc", "is_extended_id", "is_fd", "bitrate_switch", "is_remote_frame",
          "is_error_frame", "error_state_indicator", "is_rx", "channel")


@pytest.mark.parametrize("paced", [False, True])
@pytest.mark.parametrize(("can_id", "extended", "fd", "size"), [(0x7E0, False, False, 8), (0x18DA10F1, True, True, 64)])
def test_a_block_of_payloads_is_the_frames_a_stack_sends_one_by_one(channel: str, paced: bool, can_id: int,
                                                                    extended: bool, fd: bool, size: int) -> None:
    """``send_isotp_block`` (a stack's consecutive frames as payloads) puts on the wire, in the tap
    and in every receiver what ``send_isotp_frame`` of each frame puts there; on a paced bus each
    frame holds the wire in turn."""
    fake = FakeTime()
    options = {"pace": paced, "clock": fake.clock, "sleep": fake.sleep}
    sender, receiver = BenchVirtualBus(channel, **options), BenchVirtualBus(channel, **options)
    tap = virtual_bus.tap(channel)
    payloads = [bytes((0x21 + n,)) + bytes(range(n, n + size - 1)) for n in range(3)]
    try:
        sender.send_isotp_block(can_id, extended, fd, fd, [bytearray(data) for data in payloads])
        wire = virtual_bus._clocks.get(channel)  # noqa: SLF001 - when the wire is free again
        block_ends = wire.free_at if wire else None
        for data in payloads:
            sender.send_isotp_frame(isotp.CanMessage(can_id, len(data), data, extended, fd, fd))
        received = [receiver.recv(timeout=1) for _ in range(6)]
        all_end = wire.free_at if wire else None
    finally:
        virtual_bus.untap(channel, tap)
        sender.shutdown()
        receiver.shutdown()
    for frames in (received, tap):
        fields = [tuple(bytes(msg.data) if name == "data" else getattr(msg, name) for name in FIELDS) for msg in frames]
        assert fields[:3] == fields[3:] and [field[1] for field in fields[:3]] == payloads
    if paced:  # the block held the wire as long as the frames one by one did after it
        assert block_ends > 100.0 and all_end - 100.0 == pytest.approx(2 * (block_ends - 100.0))
