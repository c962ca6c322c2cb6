"""The virtual ECU's request tap: listeners hear each complete request before the ECU acts on it,
and each final answer once the ECU has handed it to its transport, in the simulator's thread.

A listener acts at a fixed point of the ECU's work, whatever the host's load: one that cuts the
power when TransferData block 2 arrives cuts it before the ECU has erased, written or answered
anything of that block (``bench.faults`` hooks its request triggers here; the simulator knows
nothing of faults). What a listener does runs in the simulator's thread: the ECU waits for it.
"""

from __future__ import annotations

import threading
from typing import Protocol


class TapListener(Protocol):
    def request(self, payload: bytes, functional: bool) -> None:
        """A complete request (``functional``: it came to the functional address), not yet served."""

    def answered(self, payload: bytes) -> None:
        """The final answer to the request served last (no 0x78), handed to the ECU's transport."""


class RequestTap:
    def __init__(self) -> None:
        self._listeners: tuple[TapListener, ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, listener: TapListener) -> None:
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def unsubscribe(self, listener: TapListener) -> None:
        """No-op if ``listener`` is not subscribed; safe from inside a listener."""
        with self._lock:
            self._listeners = tuple(known for known in self._listeners if known is not listener)

    def request(self, payload: bytes, functional: bool) -> None:
        for listener in self._listeners:
            listener.request(payload, functional)

    def answered(self, payload: bytes) -> None:
        for listener in self._listeners:
            listener.answered(payload)
