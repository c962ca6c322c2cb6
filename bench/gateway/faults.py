"""What happens to one frame on its way through the gateway: the fault pipeline, pure and thread-free.

``FaultPipeline.process(direction, msg, now)`` returns the frames to send and when (monotonic
seconds); ``take_events()`` what the faults did, one ``GatewayEvent`` a frame a fault touched. Rules:

* expired faults (``duration`` over) go first; a fault is also over when its ``count`` is used up;
* a partition or bus-off in the frame's direction discards it before anything else looks at it
  (the link is down: no other fault sees the frame or spends its count on it);
* the other faults act in arming order; a drop stops the pipeline, a reorder holds the frame;
* a direction has one transmit queue: due times never decrease, so a delayed frame holds up the
  frames behind it (FIFO), as in a store-and-forward gateway. Only ``reorder`` swaps frames.
"""

from __future__ import annotations

import copy
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import can

Direction = Literal["to_ecu", "to_tester", "both"]
Match = Callable[[can.Message], bool]
Outgoing = list[tuple[float, can.Message]]
DIRECTIONS: tuple[str, str] = ("to_ecu", "to_tester")
REORDER_HOLD = 0.050
"""Seconds a reordered frame waits for a next frame to swap with before it is sent anyway."""
_LINK_DOWN = {"partition": "partitioned", "bus_off": "bus-off"}
_ACTION = {"drop": "dropped", "drop_ratio": "dropped", "reorder": "reordered", "corrupt": "corrupted",
           "duplicate": "duplicated", "delay": "delayed"}
COUNTERS = ("dropped", "corrupted", "duplicated", "delayed", "reordered")
_HOLDING = ("delay", "reorder")
"""Faults whose frames are sent later than they arrive."""


@dataclass(frozen=True)
class GatewayEvent:
    """One frame a fault touched. ``time`` is ``time.monotonic()``, the clock of the flasher's timeline."""

    time: float
    direction: str
    action: str  # dropped, corrupted, duplicated, delayed, reordered, partitioned or bus-off
    arbitration_id: int
    data: bytes
    detail: str


class FaultHandle:
    """One armed fault: ``affected`` frames it acted on; ``active`` until cancelled, used up or expired."""

    def __init__(self, pipeline: FaultPipeline, kind: str, name: str, *, direction: Direction,
                 match: Match | None, count: int | None, expires_at: float | None, params: dict[str, Any]) -> None:
        self.kind, self.name, self.direction, self.match = kind, name, direction, match
        self.remaining, self.expires_at, self.params, self.affected = count, expires_at, params, 0
        self._pipeline, self._done = pipeline, threading.Event()

    @property
    def active(self) -> bool:
        return not self._done.is_set() and not self._expired(self._pipeline.clock())

    def cancel(self) -> None:
        self._pipeline.remove(self)

    def wait_done(self, timeout: float) -> bool:
        """True once the count is used up, the duration is over or the fault was cancelled."""
        end = time.monotonic() + timeout
        while not self._done.is_set():
            if self._expired(self._pipeline.clock()):
                return True
            left = end - time.monotonic()
            if left <= 0:
                return False
            self._done.wait(left if self.expires_at is None else min(left, 0.01))
        return True

    def _expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def _applies(self, direction: str, msg: can.Message) -> bool:
        return (self.direction == "both" or self.direction == direction) and (self.match is None or self.match(msg))


class FaultPipeline:
    """The armed faults of one gateway, shared by both directions; every method is thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.armed = False
        """Anything to do (a fault armed or a frame held): the gateway's fast-path test, read unlocked."""
        self.holds = False
        """A fault that holds frames (delay, reorder) is armed or a frame is held: only then does a
        frame need the forwarding thread, to be sent later (read unlocked)."""
        self._lock = threading.Lock()
        self._faults: list[FaultHandle] = []
        self._events: list[GatewayEvent] = []
        self._held: dict[str, tuple[float, can.Message] | None] = dict.fromkeys(DIRECTIONS)
        self._tail = dict.fromkeys(DIRECTIONS, -math.inf)
        self._counts = {direction: dict.fromkeys(COUNTERS, 0) for direction in DIRECTIONS}

    def arm(self, kind: str, *, direction: Direction = "both", match: Match | None = None,
            count: int | None = None, duration: float | None = None, **params: Any) -> FaultHandle:
        _require(kind in _ACTION or kind in _LINK_DOWN, f"no fault named {kind!r}; known: {[*_ACTION, *_LINK_DOWN]}")
        _require(direction in (*DIRECTIONS, "both"), f"direction: to_ecu, to_tester or both, not {direction!r}")
        _require(count is None or count >= 1, f"count must be at least 1 (None: every matching frame), not {count}")
        _require(duration is None or duration > 0, f"duration must be positive seconds (or None), not {duration}")
        shown = [f"{key}={value:#x}" if key == "xor" else f"{key}={value}" for key, value in params.items()]
        shown += [f"count={count}"] * (count is not None) + [f"direction={direction}"] + ["match"] * bool(match)
        shown += [f"duration={duration}s"] * (duration is not None)
        if "seed" in params:
            params["rng"] = random.Random(params["seed"])
        with self._lock:
            now = self.clock()
            handle = FaultHandle(self, kind, f"{kind}({', '.join(shown)})", direction=direction, match=match,
                                 count=count, expires_at=None if duration is None else now + duration, params=params)
            self._faults.append(handle)
            self._refresh()
        return handle

    def remove(self, handle: FaultHandle) -> None:
        with self._lock:
            self._faults[:] = [fault for fault in self._faults if fault is not handle]
            handle._done.set()
            self._refresh()

    def clear(self) -> None:
        """Cancel every fault (a frame held for reordering is still sent when its hold ends)."""
        for handle in list(self._faults):
            self.remove(handle)

    def process(self, direction: str, msg: can.Message, now: float) -> Outgoing:
        """Take ``msg`` (the pipeline owns it now) through the faults: frames to send, in order, with due times."""
        with self._lock:
            self._expire(now)
            out = [] if self._link_down(direction, msg, now) else self._apply(direction, msg, now)
            self._refresh()
            return out

    def poll(self, direction: str, now: float) -> Outgoing:
        """A reordered frame whose hold is over (no next frame came to swap with), due now."""
        with self._lock:
            self._expire(now)
            held = self._held[direction]
            if held is None or held[0] + REORDER_HOLD > now:
                return []
            self._held[direction] = None
            self._refresh()
            return [(self._due(direction, now), held[1])]

    def next_deadline(self, direction: str) -> float | None:
        held = self._held[direction]
        return None if held is None else held[0] + REORDER_HOLD

    def gate(self, direction: str, msg: can.Message, now: float) -> bool:
        """At transmit time: False (and an event) if a partition or bus-off now stops a queued frame."""
        with self._lock:
            self._expire(now)
            return not self._link_down(direction, msg, now)

    def take_events(self) -> list[GatewayEvent]:
        with self._lock:
            events, self._events = self._events, []
        return events

    def counters(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {direction: dict(counts) for direction, counts in self._counts.items()}

    def _apply(self, direction: str, msg: can.Message, now: float) -> Outgoing:
        delay, copies = 0.0, 1
        for fault in list(self._faults):
            kind, params = fault.kind, fault.params
            if kind in _LINK_DOWN or not fault._applies(direction, msg):
                continue
            if kind == "drop_ratio" and params["rng"].random() >= params["ratio"]:
                continue
            if kind == "reorder" and self._held[direction] is not None:
                continue  # one frame held a direction: this one is the frame it swaps with
            detail = fault.name
            if kind == "corrupt":
                corrupted = _corrupt(msg, params)
                if corrupted is None:
                    continue  # no such byte in this frame
                msg, detail = corrupted[0], f"{detail}: {corrupted[1]}"
            self._hit(fault)
            self._record(direction, _ACTION[kind], msg, now, detail)
            if kind == "reorder":
                self._held[direction] = (now, msg)
            if kind in ("drop", "drop_ratio", "reorder"):
                return []  # dropped, or held until the next frame
            delay += params["seconds"] if kind == "delay" else 0.0
            copies += 1 if kind == "duplicate" else 0
        due = self._due(direction, now + delay)
        out = [(due, msg)] * copies
        held = self._held[direction]
        if held is not None:  # the swap: the held frame right after this one
            self._held[direction] = None
            out.append((due, held[1]))
        return out

    def _link_down(self, direction: str, msg: can.Message, now: float) -> bool:
        for fault in self._faults:
            if fault.kind in _LINK_DOWN and fault._applies(direction, msg):
                self._hit(fault)
                self._record(direction, _LINK_DOWN[fault.kind], msg, now, fault.name)
                return True
        return False

    def _due(self, direction: str, due: float) -> float:
        self._tail[direction] = max(due, self._tail[direction])
        return self._tail[direction]

    def _hit(self, fault: FaultHandle) -> None:
        fault.affected += 1
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining == 0:
                self._retire(fault)

    def _expire(self, now: float) -> None:
        for fault in [fault for fault in self._faults if fault._expired(now)]:
            self._retire(fault)

    def _retire(self, fault: FaultHandle) -> None:
        self._faults.remove(fault)
        fault._done.set()

    def _refresh(self) -> None:
        held = any(held is not None for held in self._held.values())
        self.armed = bool(self._faults) or held
        self.holds = held or any(fault.kind in _HOLDING for fault in self._faults)

    def _record(self, direction: str, action: str, msg: can.Message, now: float, detail: str) -> None:
        self._counts[direction][action if action in COUNTERS else "dropped"] += 1
        self._events.append(GatewayEvent(now, direction, action, msg.arbitration_id, bytes(msg.data), detail))


def _corrupt(msg: can.Message, params: dict[str, Any]) -> tuple[can.Message, str] | None:
    data, index = msg.data, params["byte_index"]
    if not data or (index is not None and index >= len(data)):
        return None
    if index is None:
        index = params["rng"].randrange(len(data))
    flipped = copy.copy(msg)
    flipped.data = bytearray(data)
    flipped.data[index] ^= params["xor"]
    return flipped, f"byte {index} {data[index]:#04x} -> {flipped.data[index]:#04x}"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
