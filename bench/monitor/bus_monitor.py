"""A passive UDS monitor: reassembles ISO-TP both ways for each ECU and decodes UDS, never sending.

One thread reads the bus it is given (``bus.recv`` with a short timeout) and hands each frame to
the listen-only can-isotp stack for that CAN id, driven by ``process()`` in the same thread, so
events come out strictly in frame arrival order. Per ECU there are three stacks: requests
(``request_id``), responses (``response_id``) and functional requests (``functional_id``, shared
by the ECUs that use the same id: each of them gets the event).

Give the monitor a bus handle of its own: a second python-can ``virtual`` bus on the bench's
channel, or a second handle of the adapter. A shared handle would steal frames from the tester.
Flow-control frames are not handed to the stacks: a listener has no transmission they could
pace, and can-isotp would only log them as unexpected.

On the bench's virtual bus the frames the monitor keeps undecoded never wake its thread: the
sending thread appends each to the backlog (``BenchVirtualBus.deliver_to``), and only frames to
decode live (or queued behind such frames, to keep their order) are queued for the thread.

Decoding waits until someone needs it (issue 17: it was a third ISO-TP reassembly of every frame,
5 to 8 % of a catalog sample's profile, for a transcript a passed scenario never shows). While
nobody is subscribed or waiting, the thread only keeps each frame with the moment it arrived; the
first ``subscribe``, ``wait_for``, ``events``, ``render`` or ``errors`` decodes what was kept, in
arrival order and with those moments as the events' times, then subscribers and waiters are
served live as before. A consecutive-frame timeout the idle thread would have reported between
two kept frames is reported from their arrival times (``_Stream.timed_out``), at the moment the
live check would have seen it at the earliest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Self

import can
import isotp

from bench.config.models import BenchConfig, BusConfig, EcuConfig
from bench.errors import ConfigError
from bench.monitor.decode import Conversation, Kind
from bench.monitor.events import UdsEvent
from bench.transport.isotp_link import address, stack_params
from bench.transport.isotp_steady import SteadyFrames
from bench.transport.virtual_bus import BenchVirtualBus

log = logging.getLogger(__name__)
ISOTP_LOGGER = f"{__name__}.isotp"
# can-isotp logs a warning for every error it also reports to the error handler; the monitor
# keeps those in ``errors`` already, and a corrupted stream (fault injection) would flood the log.
logging.getLogger(ISOTP_LOGGER).setLevel(logging.ERROR)

FLOW_CONTROL = 0x3
POLL = 0.02
"""Seconds ``bus.recv`` waits; also how late a consecutive-frame timeout may be reported."""
KEEP_AT_MOST = 50_000
"""Frames kept undecoded at most (a long session on a rack that nobody asks about): the thread
decodes the backlog then, so memory stays what a transcript takes."""

Callback = Callable[[UdsEvent], None]


def ecus_on_bus(config: BenchConfig, bus: str) -> dict[str, EcuConfig]:
    """The ECUs of a bench file connected to ``bus`` (what one monitor of that bus follows)."""
    return {name: ecu for name, ecu in config.ecus.items() if ecu.bus == bus}


class _Listener(SteadyFrames, isotp.TransportLayerLogic):
    """A listen-only can-isotp stack taking the expected consecutive frames on the steady path."""


class _Stream:
    """One direction on one CAN id: a listen-only can-isotp stack fed frame by frame."""

    def __init__(self, can_id: int, kind: Kind, functional: bool, ecu: str, addr: isotp.Address,
                 params: dict[str, object], on_error: Callable[[_Stream, Exception], None]) -> None:
        self.can_id, self.kind, self.functional, self.ecus = can_id, kind, functional, [ecu]
        self.frames: deque[isotp.CanMessage] = deque()
        self.stack = _Listener(rxfn=self._next_frame, txfn=self._transmit, address=addr,
                               error_handler=lambda error: on_error(self, error), params=params)
        self.last_arrival = 0.0
        """When the latest frame handed to the stack arrived (``time.monotonic()``)."""

    def timed_out(self, now: float) -> float | None:
        """When a message being received timed out (N_Cr after its latest frame), if it did by ``now``."""
        if not self.stack.is_rx_active():
            return None
        due = self.last_arrival + self.stack.params.rx_consecutive_frame_timeout / 1000
        return due if due < now else None

    def _next_frame(self, timeout: float) -> isotp.CanMessage | None:
        return self.frames.popleft() if self.frames else None

    def _transmit(self, frame: isotp.CanMessage) -> None:
        raise RuntimeError(f"listen-only ISO-TP stack tried to send {frame!r}")

    def label(self) -> str:
        return f"{'/'.join(self.ecus)} {'functional ' if self.functional else ''}{self.kind} 0x{self.can_id:X}"


class BusMonitor:
    def __init__(self, bus: can.BusABC, bus_config: BusConfig, ecus: Mapping[str, EcuConfig], *,
                 name: str = "monitor", max_frame_size: int = 0x10000) -> None:
        self.bus = bus
        self.name = name
        self._errors: list[str] = []
        self.callback_errors: list[str] = []  # exceptions raised by subscribers (logged; the monitor carried on)
        self.frames_seen = 0
        self._conversations = {ecu: Conversation(ecu) for ecu in ecus}
        self._routes: dict[tuple[int, bool], _Stream] = {}
        params = {**stack_params(bus_config, max_frame_size=max_frame_size), "listen_mode": True,
                  "logger_name": ISOTP_LOGGER}
        for ecu_name, ecu in ecus.items():
            for can_id, kind, functional, addr in (
                    (ecu.request_id, "request", False, address(ecu, server=True)),
                    (ecu.response_id, "response", False, address(ecu, server=False)),
                    (ecu.functional_id, "request", True, address(ecu, server=True, functional=True))):
                self._route(can_id, ecu.extended_id, kind, functional, ecu_name, addr, params)
        self._transcript: list[UdsEvent] = []
        self._changed = threading.Condition()
        self._callbacks: tuple[Callback, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started: float | None = None
        self._decoding = threading.RLock()
        """Held to decode: by the thread for a live frame, by a caller catching up (reentrant: a
        subscriber may unsubscribe from inside its callback)."""
        self._kept: deque[tuple[can.Message, float]] = deque()
        """Frames not decoded yet, with the ``time.monotonic()`` of their arrival."""
        self._followed = False
        """Someone waited for an event: decode live from then on."""
        self._live = False
        """Decode each frame as it arrives (subscribers, or someone waited); else keep it."""
        self._decoding_at: float | None = None
        """The arrival time of the kept frame being decoded: the clock of what it reports."""
        self._stopped_at: float | None = None
        """When the thread stopped: the live thread reported no timeout after that."""
        self._queued = 0
        """Frames the senders queued for the thread and it has not taken yet (``_heard``)."""

    def _route(self, can_id: int, extended: bool, kind: Kind, functional: bool, ecu: str,
               addr: isotp.Address, params: dict[str, object]) -> None:
        stream = self._routes.get((can_id, extended))
        if stream is None:
            self._routes[(can_id, extended)] = _Stream(can_id, kind, functional, ecu, addr, params, self._stream_error)
        elif (stream.kind, stream.functional) == (kind, functional) and functional:
            stream.ecus.append(ecu)
        else:
            raise ConfigError(f"CAN id 0x{can_id:X} is both {stream.label()} and {ecu}'s "
                              f"{'functional ' if functional else ''}{kind} id; a monitor cannot tell them apart")

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"bus monitor {self.name!r} is already running")
        self._started = time.monotonic()
        self._stopped_at = None
        self._stop.clear()
        if isinstance(self.bus, BenchVirtualBus):
            with self._decoding:  # senders wait in _heard until what came before is taken, in order
                self._queued = 0  # what a previous run queued is drained below
                self.bus.deliver_to(self._heard, self._heard_many)
                while (frame := self.bus.recv(0)) is not None:
                    self._arrived(frame)
        self._thread = threading.Thread(target=self._run, name=f"bus-monitor-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop once every frame already received has been decoded."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if isinstance(self.bus, BenchVirtualBus):
            self.bus.deliver_to(None)
        self._stop.set()
        thread.join(timeout=5.0)
        self._stopped_at = time.monotonic()
        if thread.is_alive():
            self._errors.append("monitor thread did not stop within 5 s")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- results ---------------------------------------------------------------------------

    def subscribe(self, callback: Callback) -> None:
        """Call ``callback(event)`` for every later event, in the monitor thread, in order, before
        the event enters the transcript. Keep it short: the monitor reads no frame meanwhile."""
        with self._decoding:
            self._catch_up()  # what arrived before: decoded without the new subscriber
            with self._changed:
                self._callbacks = (*self._callbacks, callback)
            self._live = True

    def unsubscribe(self, callback: Callback) -> None:
        """Stop calling ``callback`` (no-op if it is not subscribed); safe from inside a callback."""
        with self._decoding:
            with self._changed:
                self._callbacks = tuple(c for c in self._callbacks if c is not callback)
            self._live = bool(self._callbacks) or self._followed

    @property
    def errors(self) -> list[str]:
        """ISO-TP errors in the stream (unexpected consecutive frame, timeout...) and bus read errors."""
        with self._decoding:
            self._catch_up()
        return self._errors

    @property
    def transcript(self) -> list[UdsEvent]:
        return self.events()

    def events(self) -> list[UdsEvent]:
        """A snapshot of the transcript (safe while the monitor runs)."""
        with self._decoding:
            self._catch_up()
        with self._changed:
            return list(self._transcript)

    def render(self) -> str:
        """The transcript, one line per message, seconds since the monitor started."""
        events = self.events()
        origin = self._started if self._started is not None else (events[0].time if events else 0.0)
        return "\n".join(f"{event.time - origin:9.3f}  {event.describe()}" for event in events)

    def wait_for(self, predicate: Callable[[UdsEvent], bool], timeout: float, *, since: int = 0) -> UdsEvent:
        """The first event from transcript index ``since`` on that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        checked = since
        with self._decoding:
            self._catch_up()
            self._followed = self._live = True
        with self._changed:
            while True:
                for event in self._transcript[checked:]:
                    if predicate(event):
                        return event
                checked = max(checked, len(self._transcript))
                remaining = deadline - time.monotonic()
                thread = self._thread
                if remaining <= 0 or thread is None or not thread.is_alive():  # nothing more will come
                    break
                self._changed.wait(remaining)
        tail = "\n".join(self.render().splitlines()[-10:])
        raise TimeoutError(f"{self.name}: no matching UDS event within {timeout} s "
                           f"(errors: {self._errors or 'none'}); last events:\n{tail}")

    # -- the monitor thread ----------------------------------------------------------------

    def feed(self, frame: can.Message) -> None:
        """Take one frame as arrived now (replaying a trace); only while the monitor thread is not running."""
        if self._thread is not None:
            raise RuntimeError("feed() would race the monitor thread; stop() the monitor first")
        self._arrived(frame)

    def _run(self) -> None:
        direct = isinstance(self.bus, BenchVirtualBus)  # what the thread reads was queued by _heard_many
        while True:
            stopping = self._stop.is_set()
            try:
                frame = self.bus.recv(timeout=0 if stopping else POLL)
            except Exception as exc:  # adapter gone, bus shut down: nothing more will come
                log.exception("%s: reading the bus failed; monitor stopped", self.name)
                self._errors.append(f"{self._clock()} bus: {type(exc).__name__}: {exc}; monitor stopped")
                break
            if frame is not None:
                self._arrived(frame, queued=direct)
            elif stopping:
                break
            elif self._live:
                with self._decoding:
                    self._check_timeouts()
        with self._changed:
            self._changed.notify_all()

    def _heard(self, frame: can.Message) -> None:
        """A frame on the virtual bus, in the sender's thread (``_heard_many`` of one)."""
        self._heard_many((frame,))

    def _heard_many(self, frames: Sequence[can.Message]) -> None:
        """Frames on the virtual bus, in the sender's thread (a block of consecutive frames sent
        together, or one): kept at once, or queued for the thread when they are to be decoded live
        or frames are still queued ahead of them."""
        with self._decoding:
            if not self._live and not self._queued:
                now = time.monotonic()
                self._keep([(frame, now) for frame in frames if not (frame.is_error_frame or frame.is_remote_frame)])
                return
            self._queued += len(frames)
            for frame in frames:  # under the lock: no other sender's frame between them
                self.bus.queue_for_recv(frame)  # type: ignore[attr-defined] - a BenchVirtualBus

    def _arrived(self, frame: can.Message, *, queued: bool = False) -> None:
        """A frame: decoded now (live) or kept. ``queued``: one ``_heard_many`` queued for the thread."""
        now = time.monotonic()
        with self._decoding:
            if queued:
                self._queued -= 1
            if frame.is_error_frame or frame.is_remote_frame:
                return
            if self._live:
                self.frames_seen += 1
                self._process(frame, now)
            else:
                self._keep([(frame, now)])

    def _keep(self, arrivals: list[tuple[can.Message, float]]) -> None:
        """Keep frames undecoded, with their arrival times (``_decoding`` held, not live)."""
        self.frames_seen += len(arrivals)
        self._kept.extend(arrivals)
        if len(self._kept) >= KEEP_AT_MOST:
            self._catch_up()

    def _catch_up(self) -> None:
        """Decode the kept frames, in order, at their arrival times (with ``_decoding`` held)."""
        if self._live:
            return  # nothing is kept; the thread reports timeouts itself
        try:
            while self._kept:
                frame, arrived = self._kept.popleft()
                self._report_timeouts(arrived)
                self._decoding_at = arrived
                self._process(frame, arrived)
            running = self._thread is not None and self._thread.is_alive()
            self._report_timeouts(time.monotonic() if running or self._stopped_at is None else self._stopped_at)
        finally:
            self._decoding_at = None

    def _report_timeouts(self, now: float) -> None:
        """What the live thread's idle check would have reported by ``now`` between kept frames."""
        for stream in self._routes.values():
            due = stream.timed_out(now)
            if due is not None:
                self._decoding_at = due
                self._stream_error(stream, isotp.errors.ConsecutiveFrameTimeoutError(
                    "Reception of CONSECUTIVE_FRAME timed out."))
                stream.stack.reset()

    def _process(self, frame: can.Message, arrived: float) -> None:
        stream = self._routes.get((frame.arbitration_id, frame.is_extended_id))
        if stream is None or (frame.data and frame.data[0] >> 4 == FLOW_CONTROL):
            return
        stream.last_arrival = arrived
        stream.frames.append(isotp.CanMessage(arbitration_id=frame.arbitration_id, dlc=frame.dlc, data=frame.data,
                                              extended_id=frame.is_extended_id, is_fd=frame.is_fd,
                                              bitrate_switch=frame.bitrate_switch))
        stream.stack.process()
        while (payload := stream.stack.recv()) is not None:
            self._publish(stream, bytes(payload), frame.timestamp, arrived)

    def _check_timeouts(self) -> None:
        for stream in self._routes.values():
            if stream.stack.is_rx_active():
                stream.stack.process()  # nothing queued: only reports a consecutive-frame timeout

    def _publish(self, stream: _Stream, payload: bytes, can_time: float, now: float) -> None:
        for ecu in stream.ecus:
            event = self._conversations[ecu].event(payload, stream.kind, functional=stream.functional,
                                                   time=now, can_time=can_time)
            for callback in self._callbacks:  # first: once an event is in the transcript, all have seen it
                try:
                    callback(event)
                except Exception as exc:  # a subscriber's bug must not blind the monitor
                    log.exception("%s: subscriber %r failed on %s", self.name, callback, event.describe())
                    self.callback_errors.append(f"{self._clock()} {callback!r} on {event.describe()}: "
                                                f"{type(exc).__name__}: {exc}")
            with self._changed:
                self._transcript.append(event)
                self._changed.notify_all()

    def _stream_error(self, stream: _Stream, error: Exception) -> None:
        self._errors.append(f"{self._clock()} {stream.label()}: {type(error).__name__}: {error}")

    def _clock(self) -> str:
        now = time.monotonic() if self._decoding_at is None else self._decoding_at
        origin = self._started if self._started is not None else now
        return f"{now - origin:9.3f}"
