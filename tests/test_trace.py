"""CAN traces: every frame of a bus, written as ASC and BLF that python-can reads back."""

from __future__ import annotations

import zlib
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


def test_tester_frames_are_tx_ecu_frames_rx_and_a_marker_sits_at_each_fault(tmp_path: Path) -> None:
    channel = "ota-pt-directions"
    tester, ecu = open_bus("pt", FD, channel=channel), open_bus("pt", FD, channel=channel)
    trace = BusTrace("pt", FD, channel, tester_ids={0x7E1, 0x7DF})
    try:
        tester.send(can.Message(arbitration_id=0x7E1, data=b"\x02\x10\x02", is_extended_id=False))
        ecu.send(can.Message(arbitration_id=0x7E9, data=b"\x02\x50\x02", is_extended_id=False))
        cut_at = trace.frames[-1].timestamp + 0.001
        tester.send(can.Message(arbitration_id=0x7DF, data=b"\x02\x3e\x80", is_extended_id=False))
        trace.frames[-1].timestamp = cut_at + 0.001  # the frame after the fault, whatever the clock did
        asc, blf = trace.write(tmp_path / "can-pt", [(cut_at, "fault: power cut on bms (when TransferData block 2)")])
    finally:
        trace.close()
        tester.shutdown()
        ecu.shutdown()
    for path in (asc, blf):
        frames = list(can.LogReader(path))
        assert [(f.arbitration_id, f.is_rx) for f in frames] == [(0x7E1, False), (0x7E9, True), (0x7DF, False)]
    lines = asc.read_text().splitlines()
    marker = next(i for i, line in enumerate(lines) if "fault: power cut on bms" in line)
    assert "Rx" in lines[marker - 1] and "Tx" in lines[marker + 1]  # between the answer and the next request
    assert b"fault: power cut on bms" in blf_objects(blf)  # a BLF global marker


def blf_objects(path: Path) -> bytes:
    """The BLF file's objects, out of their zlib-compressed containers (python-can reads only frames)."""
    data, found = path.read_bytes(), b""
    start = data.find(b"x", 0)
    while start != -1:
        try:
            found += zlib.decompressobj().decompress(data[start:])
        except zlib.error:
            pass
        start = data.find(b"x", start + 1)
    return found
