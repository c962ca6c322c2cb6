"""The CAN gateway: a software bridge between the tester's side and the ECUs' side of a bus.

Two python-can buses (two virtual channels on the virtual bench, two adapter channels on a
rack); one thread a direction receives a frame, takes it through the fault pipeline and sends
it on the other side. With no fault armed and nothing queued a frame goes straight across (one
``can.Message`` copy, no other allocation); on the bench's virtual bus it does so in the thread
that sent it, with no hop to the gateway's thread (``BenchVirtualBus.deliver_to``). There a
frame also goes through the fault pipeline in the sender's thread while the armed faults send
what they pass at once (drop, corrupt, duplicate, partition, bus-off): the faults see every
frame, in order, as in the thread. A frame that arrives while a fault that holds frames (delay,
reorder) is armed, or while frames wait, goes through the thread as on a rack, which sends
them when they are due. Frames go only to the other side, never back. Frames sent together (a
block of consecutive frames, ``BenchVirtualBus.send_isotp_block``) cross together when nothing
is armed and no fault waits for a clock (``frames_apart``: one that fires on a timer may strike in
the middle of a block, as on a wire), else one by one as above.

What ``bus_off`` models, honestly: for its duration no frame crosses either way — the ECU side
is cut off, and every ECU on it with it. It does not model what a real bus-off is made of: no
error frames (a virtual bus has none), no error counters, no recovery sequence (128 x 11
recessive bits); the ECUs are not told and keep sending into the void; on a rack the adapters
still acknowledge frames on each side, so senders see no ACK errors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Self

import can

from bench.errors import BenchFault, ConfigError
from bench.transport.can_bus import RECV_POLL
from bench.transport.hop_lag import HopLag, late_hops
from bench.transport.virtual_bus import BenchVirtualBus
from bench.gateway.faults import DIRECTIONS, Direction, FaultHandle, FaultPipeline, GatewayEvent, Match

log = logging.getLogger(__name__)

IDLE_WAIT = 1.0
"""Seconds a forwarding thread that reads a bench virtual bus waits for a frame when it holds
none (delay) and no reordered frame's hold ends sooner: the frames that need the thread are
queued to it, which wakes it (the others cross in their sender's thread, through the armed
faults), a fault's end is found by the next frame or ``FaultHandle.wait_done``, and stopping
the gateway wakes it (``Gateway._wake``). A thread reading an adapter polls every
``RECV_POLL``: its frames come only that way."""
_WAKE = can.Message(arbitration_id=0, data=b"", is_error_frame=True)
"""Put in a forwarding thread's receive queue to wake it; never forwarded."""

def forward_copy(msg: can.Message) -> can.Message:
    """The frame as the gateway sends it on: the same frame, none of the receiving side's channel/is_rx."""
    return can.Message(timestamp=msg.timestamp, arbitration_id=msg.arbitration_id,
                       is_extended_id=msg.is_extended_id, is_remote_frame=msg.is_remote_frame, is_fd=msg.is_fd,
                       bitrate_switch=msg.bitrate_switch, error_state_indicator=msg.error_state_indicator,
                       dlc=msg.dlc, data=msg.data)


class Gateway:
    """Forwards frames between ``tester_bus`` and ``ecu_bus`` and applies network faults.

    The caller owns the buses (the gateway never shuts them down); ``stop()`` joins the threads
    and discards frames still queued by a delay. ``fault`` is what stopped a forwarding thread
    (adapter gone): a fault of the bench, not of the ECU.

    Faults: ``match`` selects frames (``lambda m: m.arbitration_id == 0x7E0``); ``direction``
    is ``to_ecu``, ``to_tester`` or ``both``; ``count`` matching frames (None: all of them);
    ``duration`` seconds from arming (None: until the count is used up or ``cancel()``).
    """

    def __init__(self, tester_bus: can.BusABC, ecu_bus: can.BusABC, *, name: str = "gateway") -> None:
        _check_sides(name, tester_bus, ecu_bus)
        self.name, self.tester_bus, self.ecu_bus = name, tester_bus, ecu_bus
        self.pipeline = FaultPipeline()
        self.fault: BaseException | None = None
        self._subscribers: list[Callable[[GatewayEvent], None]] = []
        self._forwarded = dict.fromkeys(DIRECTIONS, 0)
        self._tx_errors = dict.fromkeys(DIRECTIONS, 0)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._apart = 0
        """Faults waiting for a clock to arm them (``frames_apart``)."""
        self._apart_lock = threading.Lock()
        self.lags = {direction: HopLag(f"CAN {name}, {arrow}", what="frame")
                     for direction, arrow in zip(DIRECTIONS, ("tester->ECU", "ECU->tester"), strict=True)}
        """Per direction, frames its thread took more than ``LATE_HOP`` after they were sent
        (virtual buses only: their timestamps are the host's clock); a delay fault's own holding
        is not counted (``bench.transport.hop_lag``)."""

    # -- faults ------------------------------------------------------------------------------
    def drop(self, count: int | None = 1, *, direction: Direction = "both", match: Match | None = None,
             duration: float | None = None) -> FaultHandle:
        return self.pipeline.arm("drop", count=count, direction=direction, match=match, duration=duration)

    def drop_ratio(self, ratio: float, *, seed: int, direction: Direction = "both", match: Match | None = None,
                   duration: float | None = None) -> FaultHandle:
        """Drop each matching frame with probability ``ratio``, reproducibly (``random.Random(seed)``)."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"ratio is a probability between 0 and 1, not {ratio}")
        return self.pipeline.arm("drop_ratio", ratio=ratio, seed=seed, direction=direction, match=match,
                                 duration=duration)

    def delay(self, seconds: float, *, count: int | None = None, direction: Direction = "both",
              match: Match | None = None, duration: float | None = None) -> FaultHandle:
        """Hold frames ``seconds`` longer; frames behind a delayed one wait for it (FIFO per direction)."""
        if seconds < 0:
            raise ValueError(f"a delay is zero or more seconds, not {seconds}")
        return self.pipeline.arm("delay", seconds=seconds, count=count, direction=direction, match=match,
                                 duration=duration)

    def corrupt(self, count: int | None = 1, *, byte_index: int | None = None, xor: int = 0xFF, seed: int = 0,
                direction: Direction = "both", match: Match | None = None,
                duration: float | None = None) -> FaultHandle:
        """XOR one data byte with ``xor`` (``byte_index``, or one picked by ``seed``); frames too short pass."""
        if not 1 <= xor <= 0xFF or (byte_index is not None and byte_index < 0):
            raise ValueError(f"corrupt needs 1 <= xor <= 0xFF and byte_index >= 0, not {xor=} {byte_index=}")
        return self.pipeline.arm("corrupt", byte_index=byte_index, xor=xor, seed=seed, count=count,
                                 direction=direction, match=match, duration=duration)

    def duplicate(self, count: int | None = 1, *, direction: Direction = "both", match: Match | None = None,
                  duration: float | None = None) -> FaultHandle:
        return self.pipeline.arm("duplicate", count=count, direction=direction, match=match, duration=duration)

    def reorder(self, count: int | None = 1, *, direction: Direction = "both", match: Match | None = None,
                duration: float | None = None) -> FaultHandle:
        """Hold a matching frame and send it right after the next one (a swap); alone after 50 ms."""
        return self.pipeline.arm("reorder", count=count, direction=direction, match=match, duration=duration)

    def partition(self, duration: float, *, direction: Direction = "both") -> FaultHandle:
        """Nothing crosses in ``direction`` for ``duration`` seconds."""
        return self.pipeline.arm("partition", direction=direction, duration=duration)

    def bus_off(self, duration: float) -> FaultHandle:
        """The ECU side is off the bus for ``duration`` seconds: nothing crosses either way (see module doc)."""
        return self.pipeline.arm("bus_off", direction="both", duration=duration)

    def clear(self) -> None:
        """Cancel every fault."""
        self.pipeline.clear()

    def _wake(self) -> None:
        """Have each running forwarding thread that reads a bench virtual bus look again at once
        (none is left in the queue of a bus whose thread is gone)."""
        for thread, source in zip(self._threads, (self.tester_bus, self.ecu_bus), strict=False):  # start()'s order
            if thread.is_alive() and isinstance(source, BenchVirtualBus):
                source.queue_for_recv(_WAKE)

    # -- running -----------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[GatewayEvent], None]) -> None:
        """Call ``callback`` for every event, from a forwarding thread or a frame's sender: keep it short."""
        self._subscribers.append(callback)

    def counters(self) -> dict[str, dict[str, int]]:
        """Per direction: forwarded, dropped, corrupted, duplicated, delayed, reordered, tx_errors."""
        counts = self.pipeline.counters()
        for direction in DIRECTIONS:
            counts[direction].update(forwarded=self._forwarded[direction], tx_errors=self._tx_errors[direction])
        return counts

    def late_hops(self) -> list[str]:
        """For ``Bench.host_overload``: each direction whose thread took frames late."""
        return late_hops(self.lags.values())

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> None:
        if self._threads:
            raise RuntimeError(f"gateway {self.name} is already running")
        self._stopping.clear()
        for direction, source, target in (("to_ecu", self.tester_bus, self.ecu_bus),
                                          ("to_tester", self.ecu_bus, self.tester_bus)):
            lane = _Lane()
            if isinstance(source, BenchVirtualBus):
                source.deliver_to(partial(self._arrive, lane, direction, source, target),
                                  partial(self._arrive_many, lane, direction, source, target))
            thread = threading.Thread(target=self._forward, args=(lane, direction, source, target),
                                      name=f"{self.name}-{direction}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for side in (self.tester_bus, self.ecu_bus):
            if isinstance(side, BenchVirtualBus):
                side.deliver_to(None)
        self._stopping.set()
        self._wake()
        for thread in self._threads:
            thread.join(timeout=10 * RECV_POLL + 1.0)
        stuck = [thread.name for thread in self._threads if thread.is_alive()]
        self._threads.clear()
        if stuck:
            raise BenchFault(f"gateway {self.name}: forwarding thread(s) {', '.join(stuck)} did not stop")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _arrive(self, lane: _Lane, direction: str, source: BenchVirtualBus, target: can.BusABC,
                msg: can.Message) -> None:
        """A frame on a virtual side, in its sender's thread: straight across when nothing is
        armed and nothing waits before it, through the pipeline when no armed fault holds frames,
        else queued for the forwarding thread."""
        with lane.lock:
            if not lane.waiting and not lane.held and not msg.is_error_frame:
                try:
                    if not self.pipeline.armed:
                        # the fast path; the bench's virtual bus sends a copy of its own anyway
                        self._send(target, direction, msg if isinstance(target, BenchVirtualBus) else forward_copy(msg))
                        return
                    if not self.pipeline.holds:  # what the faults pass goes at once: no thread to wait for
                        self._step(msg, direction, target, lane.held, timed=False)
                        if lane.held or self.pipeline.next_deadline(direction) is not None:
                            source.queue_for_recv(_WAKE)  # a holding fault armed meanwhile: its thread sends it
                        return
                except Exception as exc:  # as in _forward: the bench's fault, never raised into the sender's thread
                    self._failed(direction, exc)
                    return
            lane.waiting += 1
            source.queue_for_recv(msg)  # for the thread, past the bus's listener

    def frames_apart(self) -> Callable[[], None]:
        """Pass frames sent together one by one until the returned function is called (once is
        enough): a fault armed by a timer then strikes at the frame it would on a wire."""
        with self._apart_lock:
            self._apart += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._apart_lock:
                if not released:
                    released = True
                    self._apart -= 1

        return release

    def _arrive_many(self, lane: _Lane, direction: str, source: BenchVirtualBus, target: can.BusABC,
                     msgs: list[can.Message]) -> None:
        """Frames sent together: across together when nothing is armed, no fault waits for a
        clock and nothing waits (and the other side is the bench's virtual bus), else each as
        ``_arrive`` takes it."""
        with lane.lock:
            if not lane.waiting and not lane.held and not self.pipeline.armed and not self._apart \
                    and isinstance(target, BenchVirtualBus):
                try:
                    self._send_many(target, direction, msgs)
                except Exception as exc:  # as in _arrive
                    self._failed(direction, exc)
                return
        for msg in msgs:
            self._arrive(lane, direction, source, target, msg)

    def _failed(self, direction: str, exc: Exception) -> None:
        """Forwarding broke in a sender's thread: the gateway's fault, never raised into that thread."""
        log.exception("gateway %s: %s forwarding failed", self.name, direction)
        self.fault = BenchFault(f"gateway {self.name}: {direction} forwarding failed: {exc!r}")

    def _forward(self, lane: _Lane, direction: str, source: can.BusABC, target: can.BusABC) -> None:
        pipeline, stopping, clock, held = self.pipeline, self._stopping, time.monotonic, lane.held
        timed = isinstance(source, BenchVirtualBus)
        try:
            while not stopping.is_set():
                timeout = IDLE_WAIT if timed else RECV_POLL
                if held or pipeline.armed:
                    wake = [due for due in (held[0][0] if held else None, pipeline.next_deadline(direction))
                            if due is not None]
                    timeout = min([timeout, *(max(0.0, due - clock()) for due in wake)])
                msg = source.recv(timeout)
                if msg is _WAKE:
                    continue
                with lane.lock:  # no frame overtakes this one on the fast path
                    if msg is not None:
                        lane.waiting = max(0, lane.waiting - 1)
                    self._step(msg, direction, target, held, timed)
        except Exception as exc:  # the adapter went away, or a fault's match function raised
            if not stopping.is_set():
                log.exception("gateway %s: %s forwarding stopped", self.name, direction)
                self.fault = BenchFault(f"gateway {self.name}: {direction} forwarding stopped: {exc!r}")

    def _step(self, msg: can.Message | None, direction: str, target: can.BusABC,
              held: deque[tuple[float, can.Message]], timed: bool) -> None:
        """Take ``msg`` (if any) through the fault pipeline, send what is due, publish events."""
        pipeline, clock = self.pipeline, time.monotonic
        if msg is not None and not msg.is_error_frame:
            if timed:
                self.lags[direction].note(time.time() - msg.timestamp)
            frame = forward_copy(msg)
            if not held and not pipeline.armed:
                self._send(target, direction, frame)
                return
            held.extend(pipeline.process(direction, frame, clock()))
        if pipeline.armed:
            held.extend(pipeline.poll(direction, clock()))
        now = clock()
        while held and held[0][0] <= now:
            frame = held.popleft()[1]
            if pipeline.gate(direction, frame, now):
                self._send(target, direction, frame)
        self._publish(pipeline.take_events())

    def _send(self, target: can.BusABC, direction: str, frame: can.Message) -> None:
        try:
            target.send(frame)
        except can.CanError as exc:
            self._lost(direction, [frame], exc)
        else:
            self._forwarded[direction] += 1

    def _send_many(self, target: BenchVirtualBus, direction: str, frames: list[can.Message]) -> None:
        try:
            target.send_isotp_frames(frames)
        except can.CanError as exc:
            self._lost(direction, frames, exc)
        else:
            self._forwarded[direction] += len(frames)

    def _lost(self, direction: str, frames: list[can.Message], exc: can.CanError) -> None:
        """Frames not sent (transmit buffer full, bus error, closed): lost, as on a real gateway."""
        self._tx_errors[direction] += len(frames)
        log.debug("gateway %s: %s %d frame(s) from %#x not sent: %s", self.name, direction, len(frames),
                  frames[0].arbitration_id, exc)

    def _publish(self, events: list[GatewayEvent]) -> None:
        for event in events:
            for callback in self._subscribers:
                try:
                    callback(event)
                except Exception:  # a broken report hook must not stop the traffic
                    log.exception("gateway %s: event subscriber %r failed", self.name, callback)


@dataclass
class _Lane:
    """One direction's state shared by the senders' fast path and the forwarding thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: int = 0
    """Frames queued for the thread and not yet taken through the pipeline."""
    held: deque[tuple[float, can.Message]] = field(default_factory=deque)
    """Frames the pipeline holds (delay, reorder), with the time each is due."""


def _check_sides(name: str, tester_bus: can.BusABC, ecu_bus: can.BusABC) -> None:
    same = tester_bus is ecu_bus or (type(tester_bus) is type(ecu_bus)
                                     and tester_bus.channel_info not in ("", "unknown")
                                     and tester_bus.channel_info == ecu_bus.channel_info)
    if same:
        raise ConfigError(f"gateway {name}: tester and ECU side are the same channel ({tester_bus.channel_info}); "
                          "give the ECU side its own channel (ecu_channel) or the gateway loops frames forever")
    for side, bus in (("tester", tester_bus), ("ECU", ecu_bus)):
        if getattr(bus, "receive_own_messages", False):
            raise ConfigError(f"gateway {name}: the {side} bus receives its own messages (receive_own_messages); "
                              "the gateway would forward its own frames back — remove that option")
