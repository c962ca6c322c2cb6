"""How requests reach a virtual ECU and its answers leave, per power-on: ISO-TP stacks on its CAN
bus (``CanPorts``), or, for an ECU on Ethernet that is itself a DoIP entity, whole UDS messages
handed in and out by that entity in the same process (``DoipNode``).

Both give the ECU's run a physical and a functional port with the surface of the ECU's ISO-TP
stacks (``bench.sim.isotp_server.EcuStack``): start, stop, recv, send, ``last_frame_at`` (when the
last request arrived) and ``answer_sent`` (told when an answer starts to leave).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import can


class RequestPort(Protocol):
    last_frame_at: float
    answer_sent: Callable[[], None] | None

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def recv(self, block: bool = False, timeout: float | None = None) -> bytes | bytearray | None: ...

    def send(self, payload: bytes) -> None: ...


@dataclass
class Ports:
    """One power-on's receive paths; ``can``: the ECU's bus and notifier when it is on CAN."""

    physical: RequestPort
    functional: RequestPort
    can: tuple[can.BusABC, can.Notifier] | None = None

    def close(self) -> None:
        if self.can is not None:
            bus, notifier = self.can
            notifier.stop()
            bus.shutdown()


class MessagePort:
    """Whole UDS messages in a queue: what the DoIP entity hands in while the port runs; answers go
    to ``answer``. Stopped (power lost), it takes nothing in and lets nothing out."""

    def __init__(self, answer: Callable[[bytes], None], running: Callable[[bool], None] | None = None) -> None:
        self.last_frame_at = 0.0
        self.answer_sent: Callable[[], None] | None = None
        self._answer = answer
        self._running_changed = running
        self._queue: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._running = threading.Event()

    def start(self) -> None:
        self._running.set()
        if self._running_changed is not None:
            self._running_changed(True)

    def stop(self) -> None:
        self._running.clear()
        if self._running_changed is not None:
            self._running_changed(False)

    def deliver(self, payload: bytes) -> bool:
        """A request from the entity; False when the ECU is not running (nothing took it)."""
        if not self._running.is_set():
            return False
        self.last_frame_at = time.monotonic()
        self._queue.put(payload)
        return True

    def recv(self, block: bool = False, timeout: float | None = None) -> bytes | None:
        try:
            return self._queue.get(block=block, timeout=timeout)
        except queue.Empty:
            return None

    def send(self, payload: bytes) -> None:
        if self._running.is_set():
            if self.answer_sent is not None:
                self.answer_sent()
            self._answer(payload)


class DoipNode:
    """The ECU's side of the DoIP entity it is (ISO 13400-2 DoIP node): the entity hands requests
    to ``deliver``; answers go to ``answer``; ``powered`` is told when the ECU starts and stops
    taking requests, so the entity's sockets live and die with the ECU's power."""

    def __init__(self) -> None:
        self.answer: Callable[[bytes], None] = lambda payload: None
        """Set by the entity: where the ECU's answers go (to the tester that asked)."""
        self.powered: Callable[[bool], None] = lambda on: None
        """Set by the entity: its power follows the ECU's."""
        self._ports: Ports | None = None

    def open(self) -> Ports:
        physical = MessagePort(self._answered, running=self._running)
        self._ports = Ports(physical, MessagePort(self._answered))
        return self._ports

    def deliver(self, payload: bytes, *, functional: bool) -> bool:
        ports = self._ports
        if ports is None:
            return False
        port = ports.functional if functional else ports.physical
        assert isinstance(port, MessagePort)
        return port.deliver(payload)

    def _answered(self, payload: bytes) -> None:
        self.answer(payload)

    def _running(self, on: bool) -> None:
        self.powered(on)
