"""The bench's virtual bus: python-can semantics, sender-side filters, bitrate pacing."""

from __future__ import annotations

import uuid

import can
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
