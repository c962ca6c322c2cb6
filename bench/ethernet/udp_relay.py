"""UDP_DISCOVERY through the DoIP relay: vehicle identification and entity status requests from
testers to a DoIP entity's UDP port, and its answers back, each datagram kept for the pcapng.

Each tester address gets a socket of its own towards the entity, so an answer goes back to the
tester that asked. ISO 13400-2 puts one DoIP message in each datagram: datagrams are forwarded
whole, as they came.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.ethernet.direction import Direction

POLL = 0.05
LARGEST_DATAGRAM = 0x10000


@dataclass(frozen=True)
class UdpEvent:
    """A datagram the relay forwarded ``direction``, between ``tester`` and the entity."""
    time: float
    direction: Direction
    tester: tuple[str, int]
    data: bytes


class UdpRelay:
    """Listens on ``host``:``port`` (UDP) and relays each datagram to ``upstream`` and back."""

    def __init__(self, upstream: tuple[str, int], *, host: str, port: int,
                 record: Callable[[UdpEvent], None]) -> None:
        self.upstream = upstream
        self._record = record
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._listener.bind((host, port))
        self._towards_entity: dict[tuple[str, int], socket.socket] = {}
        """Tester address -> its socket towards the entity."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name=f"doip-relay-udp-{port}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        for sock in [self._listener, *self._towards_entity.values()]:
            sock.close()

    def _pump(self) -> None:
        while not self._stop.is_set():
            testers = {sock: tester for tester, sock in self._towards_entity.items()}
            ready = select.select([self._listener, *testers], [], [], POLL)[0]
            for sock in ready:
                try:
                    data, sender = sock.recvfrom(LARGEST_DATAGRAM)
                except OSError:
                    continue  # an ICMP port unreachable of an earlier datagram: the entity is not there
                if sock is self._listener:
                    self._to_entity(sender[:2], data)
                else:
                    self._to_tester(testers[sock], data)

    def _to_entity(self, tester: tuple[str, int], data: bytes) -> None:
        sock = self._towards_entity.get(tester)
        if sock is None:
            sock = self._towards_entity[tester] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.sendto(data, self.upstream)
        except OSError:
            return
        self._record(UdpEvent(time.time(), Direction.TO_ENTITY, tester, data))

    def _to_tester(self, tester: tuple[str, int], data: bytes) -> None:
        try:
            self._listener.sendto(data, tester)
        except OSError:
            return
        self._record(UdpEvent(time.time(), Direction.TO_TESTER, tester, data))
