"""CAN traces: every frame of a bus, written as ASC and BLF that python-can reads back."""

from __future__ import annotations

from pathlib import Path

import can

from bench.config.models import BusConfig
from bench.transport.can_bus import open_bus
from bench.transport.trace import BusTrace

FD = BusConfig(interface="virtual", channel="unused", fd=True, data_bitrate=2_000_000)


def test_a_trace_holds_every_frame_of_the_bus_whatever_its_channel_is_called(tmp_path: Path) -> None:
    channel = "ota-pt#98765432"  # the writers read a channel number out of names: this one overflows BLF's
    sender, other = open_bus("pt", FD, channel=channel), open_bus("pt", FD, channel=channel)
    trace = BusTrace("pt", FD, channel)
    try:
        sender.send(can.Message(arbitration_id=0x7E1, data=bytes(range(64)), is_fd=True, bitrate_switch=True,
                                is_extended_id=False))
        other.send(can.Message(arbitration_id=0x7E9, data=b"\x76\x01", is_extended_id=False))
        paths = trace.write(tmp_path / "can-pt")
    finally:
        trace.close()
        sender.shutdown()
        other.shutdown()
    assert [path.name for path in paths] == ["can-pt.asc", "can-pt.blf"]
    for path in paths:
        frames = list(can.LogReader(path))
        assert [(f.arbitration_id, bytes(f.data), f.is_fd) for f in frames] == [
            (0x7E1, bytes(range(64)), True), (0x7E9, b"\x76\x01", False)]
    sender2 = open_bus("pt", FD, channel=channel)
    try:
        sender2.send(can.Message(arbitration_id=0x123, data=b"\x01", is_extended_id=False))
    finally:
        sender2.shutdown()
    assert len(trace.frames) == 2  # closed: no longer recording
