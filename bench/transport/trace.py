"""CAN traces of a test: every frame of a bus, kept in memory, written as ASC and BLF on demand.

On the bench's virtual buses the trace taps the channel (``virtual_bus.tap``: the frames the
senders already made, no extra thread); on a real bus it listens on a handle of its own
through a python-can ``Notifier``. ``write`` hands the frames to python-can's ``ASCWriter``
and ``BLFWriter``: files CANalyzer/CANoe and python-can's readers open.

Directions are the tester's: a frame on one of the tester's identifiers (``tester_ids``: the
ECUs' request and functional ids) is ``Tx``, every other frame (the ECUs' answers, their cyclic
frames) ``Rx``. Markers (a fault injection, at its moment) go between the frames as events: an
ASC event line, a BLF global marker.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import can

from bench.config.models import BusConfig
from bench.transport.can_bus import RECV_POLL, open_bus
from bench.transport.virtual_bus import tap, untap


Marker = tuple[float, str]
"""(epoch seconds, text): an event written into a trace at its moment."""


class BusTrace:
    def __init__(self, name: str, config: BusConfig, channel: str | int, *, tester_ids: Collection[int] = (),
                 side: str = "tester") -> None:
        self.name = name
        self.tester_ids = frozenset(tester_ids)
        """Arbitration ids the tester sends on: its frames are written ``Tx``, all others ``Rx``."""
        self.side = side
        """``tester``: the bus as the tester sees it; ``ecu``: behind the bench's gateway."""
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

    def write(self, stem: Path, markers: Sequence[Marker] = ()) -> list[Path]:
        """``<stem>.asc`` and ``<stem>.blf`` with every frame recorded so far, and ``markers``
        in their places among them."""
        stem.parent.mkdir(parents=True, exist_ok=True)
        frames = [self._as_logged(frame) for frame in list(self.frames)]
        events = sorted((at, _ascii(text)) for at, text in markers)
        paths = []
        for suffix, writer_class in ((".asc", can.ASCWriter), (".blf", can.BLFWriter)):
            path = stem.with_name(stem.name + suffix)
            writer = writer_class(path)
            try:
                pending = iter(events)
                event = next(pending, None)
                for frame in frames:
                    while event is not None and event[0] <= frame.timestamp:
                        writer.log_event(event[1], event[0])
                        event = next(pending, None)
                    writer.on_message_received(frame)
                while event is not None:
                    writer.log_event(event[1], event[0])
                    event = next(pending, None)
            finally:
                writer.stop()
            paths.append(path)
        return paths

    def _as_logged(self, frame: can.Message) -> can.Message:
        """``frame`` as trace channel 1 (one trace file is one bus, and the writers read a number
        out of the channel name, which a virtual channel's isolation token can make any size),
        ``Tx`` when the tester sent it."""
        copy = frame.__copy__()
        copy.channel = None
        copy.is_rx = frame.arbitration_id not in self.tester_ids
        return copy

    def close(self) -> None:
        if self._virtual:
            untap(self._channel, self.frames)
        else:
            assert self._notifier is not None and self._bus is not None
            self._notifier.stop()
            self._bus.shutdown()



def _ascii(text: str) -> str:
    """BLF markers are ASCII (python-can encodes them so off Windows)."""
    return text.replace("→", "->").encode("ascii", "replace").decode("ascii")
