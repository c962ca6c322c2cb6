"""The bench's virtual CAN channel: python-can's ``VirtualBus``, cheaper per frame, optionally
paced to a bitrate.

python-can's ``VirtualBus`` deep-copies a frame once per receiver and wakes every receiver for
every frame. Flashing thousands of images through it, that is most of the bench's CPU time.
``BenchVirtualBus`` keeps its channel registry and semantics (peers opened with plain
``can.Bus(interface="virtual")`` on the same channel still hear and are heard) and changes two
things:

* a frame is copied once and that copy is shared by all receivers (nothing on the bench
  modifies a received frame: can-isotp, the monitor and trace writers read it; the gateway
  sends a copy of its own);
* ``can_filters`` are applied by the sender, like an adapter's acceptance filter in hardware,
  so a frame never wakes a receiver that would drop it;
* ``tap(channel)`` records every frame of a channel, as a bus analyzer would, with no thread.

With ``pace=True``, ``send`` returns only once the frame has had its time on the bus: frames
of one channel take turns, each lasting its nominal bit count (``frame_bits``) at the bitrate,
the CAN FD data phase at ``data_bitrate`` when the frame switches bitrate. Delivery may run up
to ``2 * PACING_LEAD`` ahead of the simulated bus clock (sleeping to the exact end of every
frame would overshoot on every frame and lose bus time); over a transfer the rate is the bus's
own.
"""

from __future__ import annotations

import operator
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import can
from can.interfaces import virtual

PACING_LEAD = 0.0002
"""Seconds delivery may run ahead of the simulated bus: the sender sleeps once it is twice as
far ahead, until it is this far ahead, so a sleep's overshoot costs no wire time. What a
receiver does within the lead goes unbilled (at most 0.4 ms per exchange)."""


def frame_bits(msg: can.Message) -> tuple[int, int]:
    """Nominal length of ``msg`` on the wire, without stuff bits, as (bits at the arbitration
    bitrate, bits at the data bitrate); the second is 0 unless the frame switches bitrate.

    Classic CAN: SOF, identifier, RTR/IDE/r0 (SRR, IDE, r1, r0 in 29-bit frames), DLC, data,
    CRC 15 + delimiter, ACK slot + delimiter, EOF 7, intermission 3.
    CAN FD: the arbitration phase up to BRS; then ESI, DLC, data, stuff count 4, CRC 17 (21
    above 16 data bytes) + delimiter; then ACK, EOF and intermission at the arbitration rate.
    """
    data = 8 * len(msg.data)
    if not msg.is_fd:
        return (67 if msg.is_extended_id else 47) + data, 0
    arbitration = 36 if msg.is_extended_id else 17
    data_phase = 1 + 4 + data + 4 + (21 if len(msg.data) > 16 else 17) + 1
    tail = 2 + 7 + 3
    if msg.bitrate_switch:
        return arbitration + tail, data_phase
    return arbitration + data_phase + tail, 0


class IsoTpFrame(Protocol):
    """What ``send_isotp_frame`` reads of a can-isotp frame (``isotp.CanMessage``)."""

    arbitration_id: int
    data: bytes | bytearray
    is_extended_id: bool
    is_fd: bool
    bitrate_switch: bool


def _received(arbitration_id: int, data: bytes | bytearray, is_extended_id: bool, is_fd: bool, bitrate_switch: bool,
              channel: object, *, dlc: int | None = None, is_remote_frame: bool = False, is_error_frame: bool = False,
              error_state_indicator: bool = False) -> can.Message:
    """The frame as its receivers get it: a copy of the data, stamped now, on ``channel``.

    Set slot by slot (``can.Message.__slots__``) where ``can.Message(...)`` would pass every field
    through its ``__init__``: 0.3 us instead of 0.9, on every frame (``tests/test_library_internals.py``
    checks that these are all of a message's fields)."""
    shared = _new_message(can.Message)
    shared.timestamp = time.time()
    shared.arbitration_id = arbitration_id
    shared.is_extended_id = is_extended_id
    shared.is_remote_frame = is_remote_frame
    shared.is_error_frame = is_error_frame
    shared.channel = channel
    shared.data = bytearray(data)
    shared.dlc = len(shared.data) if dlc is None else dlc
    shared.is_fd = is_fd
    shared.is_rx = True
    shared.bitrate_switch = bitrate_switch
    shared.error_state_indicator = error_state_indicator
    return shared


def _received_block(arbitration_id: int, is_extended_id: bool, is_fd: bool, bitrate_switch: bool, channel: object,
                    payloads: list[bytearray]) -> list[can.Message]:
    """Data frames of one sender and id, each as ``_received`` makes it from its payload (taken as
    the frame's own, not copied: a new ``bytearray`` per frame), in one loop instead of a call each."""
    frames = []
    keep, new, stamp = frames.append, _new_message, time.time
    for data in payloads:
        shared = new(can.Message)
        shared.timestamp = stamp()
        shared.arbitration_id = arbitration_id
        shared.is_extended_id = is_extended_id
        shared.is_remote_frame = shared.is_error_frame = shared.error_state_indicator = False
        shared.channel = channel
        shared.data = data
        shared.dlc = len(data)
        shared.is_fd = is_fd
        shared.is_rx = True
        shared.bitrate_switch = bitrate_switch
        keep(shared)
    return frames


_new_message = can.Message.__new__
_FRAME_KIND = operator.attrgetter("arbitration_id", "is_extended_id", "is_fd", "bitrate_switch")
_DATA = operator.attrgetter("data")


@dataclass
class _BusClock:
    """When the channel's wire is free again (seconds of the buses' ``clock``)."""

    free_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


_clocks: dict[object, _BusClock] = {}
_registry_lock = threading.Lock()
"""Guards the per-channel registries below and above (clocks, taps)."""
_taps: dict[object, list[list[can.Message]]] = {}
"""Per channel, the lists recording every frame sent on it (``tap``): a bus analyzer's view."""


def tap(channel: object) -> list[can.Message]:
    """Start recording every frame sent on ``channel`` (by any bench virtual bus) into the
    returned list, at no cost to the senders but an append; ``untap`` stops."""
    frames: list[can.Message] = []
    with _registry_lock:
        _taps.setdefault(channel, []).append(frames)
    return frames


def untap(channel: object, frames: list[can.Message]) -> None:
    with _registry_lock:
        recorders = _taps.get(channel, [])
        if any(recorder is frames for recorder in recorders):
            recorders[:] = [recorder for recorder in recorders if recorder is not frames]
        if not recorders:
            _taps.pop(channel, None)


class _FilteredQueue(queue.Queue):
    """A receiver's queue that knows the receiver's acceptance filters; with a ``listener`` it
    hands each frame to it in the sender's thread instead of queueing it (``deliver_to``).

    Unbounded (python-can's default ``rx_queue_size=0``), the frames wait in a C ``SimpleQueue``:
    python-can's virtual bus only puts and gets (with a timeout), and that needs none of
    ``queue.Queue``'s Python-level lock and conditions (a put and a get: 0.2 µs instead of 1.4)."""

    filters: list[tuple[int, int, bool | None]] | None = None
    listener: Callable[[can.Message], None] | None = None
    listener_many: Callable[[list[can.Message]], None] | None = None
    """The listener's form that takes several frames in one call (``deliver_to``), if it has one."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self._unbounded: queue.SimpleQueue[can.Message] | None = queue.SimpleQueue() if maxsize <= 0 else None

    def put(self, item: can.Message, block: bool = True, timeout: float | None = None) -> None:
        listener = self.listener
        if listener is not None:
            listener(item)
        else:
            self.put_for_recv(item, block, timeout)

    def put_many(self, items: list[can.Message], timeout: float | None = None) -> None:
        """``items`` in order, as ``put`` of each would; a listener with a form for several frames
        gets them in one call."""
        many = self.listener_many
        if many is not None and self.listener is not None:
            many(items)
            return
        for item in items:
            self.put(item, block=True, timeout=timeout)

    def put_for_recv(self, item: can.Message, block: bool = True, timeout: float | None = None) -> None:
        """Queue ``item`` for ``recv``, past the listener."""
        if self._unbounded is not None:
            self._unbounded.put(item)
        else:
            super().put(item, block, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> can.Message:
        if self._unbounded is not None:
            return self._unbounded.get(block, timeout)
        return super().get(block, timeout)

    def qsize(self) -> int:
        return self._unbounded.qsize() if self._unbounded is not None else super().qsize()

    def empty(self) -> bool:
        return self._unbounded.empty() if self._unbounded is not None else super().empty()

    def accepts(self, msg: can.Message) -> bool:
        if self.filters is None:
            return True
        for can_id, mask, extended in self.filters:
            if (extended is None or extended == msg.is_extended_id) and (msg.arbitration_id ^ can_id) & mask == 0:
                return True
        return False


class BenchVirtualBus(virtual.VirtualBus):
    def __init__(self, channel: object = "channel-0", *, bitrate: int = 500_000, data_bitrate: int | None = None,
                 pace: bool = False, clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        super().__init__(channel=channel, **kwargs)
        with virtual.channels_lock:  # swap in a queue that carries the filters
            own = _FilteredQueue(self.queue.maxsize)
            self.channel[self.channel.index(self.queue)] = own
            self.queue = own
            self._apply_filters(self.filters)
        self.bitrate = bitrate
        self.data_bitrate = data_bitrate or bitrate
        self._now, self._sleep = clock, sleep
        self._clock: _BusClock | None = None
        if pace:
            with _registry_lock:
                self._clock = _clocks.setdefault(channel, _BusClock())

    def _apply_filters(self, filters: can.typechecking.CanFilters | None) -> None:
        own = getattr(self, "queue", None)
        if not isinstance(own, _FilteredQueue):  # called by BusABC.__init__ before our queue exists
            return
        own.filters = None if not filters else [
            (f["can_id"], f["can_mask"], f.get("extended")) for f in filters]  # type: ignore[misc]

    def deliver_to(self, listener: Callable[[can.Message], None] | None,
                   many: Callable[[list[can.Message]], None] | None = None) -> None:
        """Hand every frame this bus receives to ``listener``, called by the sending thread,
        instead of queueing it for ``recv``; ``None`` queues again (``DirectNotifier``). ``many``
        takes the frames a sender puts on the bus together (``send_isotp_block``) in one call."""
        own = self.queue
        assert isinstance(own, _FilteredQueue)  # swapped in by __init__
        if listener is None:
            own.listener, own.listener_many = None, None
        else:
            own.listener_many, own.listener = many, listener

    def queue_for_recv(self, msg: can.Message) -> None:
        """Queue ``msg`` for ``recv`` even while a listener takes this bus's frames (``deliver_to``)."""
        own = self.queue
        assert isinstance(own, _FilteredQueue)  # swapped in by __init__
        own.put_for_recv(msg)

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        msg, _ = super()._recv_internal(timeout)
        return msg, True  # the sender applied our filters

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        self._check_if_open()
        self._transmit(_received(msg.arbitration_id, msg.data, msg.is_extended_id, msg.is_fd, msg.bitrate_switch,
                                 self.channel_id, dlc=msg.dlc, is_remote_frame=msg.is_remote_frame,
                                 is_error_frame=msg.is_error_frame, error_state_indicator=msg.error_state_indicator),
                       timeout)

    def send_isotp_frame(self, frame: IsoTpFrame) -> None:
        """Send a frame of a can-isotp stack (``isotp.CanMessage``) as can-isotp's own sender does
        (``can.Message(arbitration_id, data, is_extended_id, is_fd, bitrate_switch)`` to ``send``),
        without building that intermediate message: the bench's stacks send every frame this way."""
        if not self._open:  # VirtualBus._check_if_open(), a call less a frame (tests/test_library_internals.py)
            raise can.CanOperationError("Cannot operate on a closed bus")
        self._transmit(_received(frame.arbitration_id, frame.data, frame.is_extended_id, frame.is_fd,
                                 frame.bitrate_switch, self.channel_id), None)

    def send_isotp_frames(self, frames: list[IsoTpFrame]) -> None:
        """Frames back to back (a block of consecutive frames), as ``send_isotp_frame`` of each in
        turn: the frames of a block, one id and kind (the gateway passes a stack's block across),
        go as ``send_isotp_block`` of their payloads."""
        if not self._open:  # as send_isotp_frame, even for no frames
            raise can.CanOperationError("Cannot operate on a closed bus")
        kinds = set(map(_FRAME_KIND, frames))
        if len(kinds) == 1:
            self.send_isotp_block(*kinds.pop(), list(map(bytearray, map(_DATA, frames))))
            return
        for frame in frames:
            self.send_isotp_frame(frame)

    def send_isotp_block(self, arbitration_id: int, is_extended_id: bool, is_fd: bool, bitrate_switch: bool,
                         payloads: list[bytearray]) -> None:
        """Consecutive frames of one can-isotp stack given as their payloads (each a new
        ``bytearray``, which becomes the frame's data), as ``send_isotp_frame`` of each in turn:
        the same frames in the same order to the taps and to every receiver, where a receiver with
        a form for several frames (``deliver_to``) gets them in one call. The frames are built here,
        once, instead of as can-isotp frames first. On a paced bus each frame takes its turn on the
        wire."""
        if not self._open:  # as send_isotp_frame
            raise can.CanOperationError("Cannot operate on a closed bus")
        channel = self.channel_id
        if self._clock is not None:  # a paced bus: each frame made when it takes its turn on the wire
            for data in payloads:
                self._transmit(_received(arbitration_id, data, is_extended_id, is_fd, bitrate_switch, channel), None)
            return
        self._put_all(_received_block(arbitration_id, is_extended_id, is_fd, bitrate_switch, channel, payloads), None)

    def _transmit(self, shared: can.Message, timeout: float | None) -> None:
        """Put ``shared`` on the channel: to its taps, then to every receiver whose filters accept it."""
        if self._clock is not None:
            self._occupy_wire(shared)
        self._put_all([shared], timeout)

    def _put_all(self, shared: list[can.Message], timeout: float | None) -> None:
        """Frames onto the channel in order: to its taps, then to every receiver each frame its
        filters accept; several at once to a receiver that takes them together (``put_many``)."""
        for recorder in _taps.get(self.channel_id, ()):
            recorder.extend(shared)
        all_sent = True
        for receiver in self.channel:
            if receiver is self.queue and not self.receive_own_messages:
                continue
            accepted = shared
            if isinstance(receiver, _FilteredQueue) and receiver.filters is not None:
                accepted = [msg for msg in shared if receiver.accepts(msg)]
            try:
                if len(accepted) > 1 and isinstance(receiver, _FilteredQueue):
                    receiver.put_many(accepted, timeout)
                else:  # one frame, or a python-can virtual bus on the channel
                    for msg in accepted:
                        receiver.put(msg, block=True, timeout=timeout)
            except queue.Full:
                all_sent = False
        if not all_sent:
            raise can.CanOperationError("Could not send message to one or more recipients")

    def _occupy_wire(self, msg: can.Message) -> None:
        """Wait for the wire, hold it for the frame's duration; sleep only when far ahead."""
        assert self._clock is not None
        nominal, fast = frame_bits(msg)
        duration = nominal / self.bitrate + fast / self.data_bitrate
        with self._clock.lock:
            now = self._now()
            start = max(now, self._clock.free_at)
            self._clock.free_at = end = start + duration
        ahead = end - now
        if ahead > 2 * PACING_LEAD:
            self._sleep(ahead - PACING_LEAD)

    def shutdown(self) -> None:
        super().shutdown()
        with virtual.channels_lock, _registry_lock:
            if self.channel_id not in virtual.channels:  # the channel's last bus: forget its clock
                _clocks.pop(self.channel_id, None)
