"""CAN traces of a test: every frame of a bus, kept in memory, written as ASC and BLF on demand.

On the bench's virtual buses the trace taps the channel (``virtual_bus.tap``: the frames the
senders already made, no extra thread); on a real bus it listens on a handle of its own
through a python-can ``Notifier``. ``write`` hands the frames to python-can's ``ASCWriter``
and ``BLFWriter``: files CANalyzer/CANoe and python-can's readers open.
"""

from __future__ import annotations

from pathlib import Path

import can

from bench.config.models import BusConfig
from bench.transport.can_bus import RECV_POLL, open_bus
from bench.transport.virtual_bus import tap, untap


class BusTrace:
    def __init__(self, name: str, config: BusConfig, channel: str | int) -> None:
        self.name = name
        self._channel = channel
        self._virtual = config.interface == "virtual"
        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None
        if self._virtual:
            self.frames = tap(channel)
        else:
            self.frames = []
            self._bus = open_bus(name, config, channel=channel)
            self._notifier = can.Notifier(self._bus, [self.frames.append], timeout=RECV_POLL)

    def write(self, stem: Path) -> list[Path]:
        """``<stem>.asc`` and ``<stem>.blf`` with every frame recorded so far."""
        stem.parent.mkdir(parents=True, exist_ok=True)
        frames = [_on_channel_1(frame) for frame in list(self.frames)]
        paths = []
        for suffix, writer_class in ((".asc", can.ASCWriter), (".blf", can.BLFWriter)):
            path = stem.with_name(stem.name + suffix)
            writer = writer_class(path)
            try:
                for frame in frames:
                    writer.on_message_received(frame)
            finally:
                writer.stop()
            paths.append(path)
        return paths

    def close(self) -> None:
        if self._virtual:
            untap(self._channel, self.frames)
        else:
            assert self._notifier is not None and self._bus is not None
            self._notifier.stop()
            self._bus.shutdown()


def _on_channel_1(frame: can.Message) -> can.Message:
    """``frame`` as trace channel 1: one trace file is one bus, and the writers read a number out
    of the channel name (a virtual channel's isolation token can make it any size)."""
    copy = frame.__copy__()
    copy.channel = None
    return copy
