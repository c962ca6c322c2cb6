"""Routing activation (ISO 13400-2, "routing activation handler"): the response codes, and the
alive check an entity makes before it refuses an activation for a socket that may be dead.

When a tester's source address is already registered on another TCP_DATA socket (0x03), or every
socket is registered (0x01), the entity does not refuse at once: it sends an alive check request
(0x0007) on the registered socket(s) and waits T_TCP_Alive_Check. A socket that answers (0x0008)
is alive and keeps its registration; one that does not (or is closed meanwhile) is closed, its
registration freed, and the activation judged again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from doipclient.messages import AliveCheckRequest

from bench.doip.header import frame

CLIENT_ADDRESSES = range(0x0E00, 0x1000)
"""ISO 13400-2 logical addresses of external test equipment: the source addresses routing activation accepts."""
ACTIVATION_TYPES = frozenset({0x00, 0x01})
"""Default and WWH-OBD; central security (0xE0) and OEM types are not supported (code 0x06)."""
T_TCP_ALIVE_CHECK = 0.5
"""ISO 13400-2 T_TCP_Alive_Check (s): how long the entity waits for an alive check response."""
ALIVE_POLL = 0.01


class Activation:
    """Routing activation response codes (ISO 13400-2 table "routing activation response code")."""

    UNKNOWN_SOURCE = 0x00
    ALL_SOCKETS_REGISTERED = 0x01
    DIFFERENT_SOURCE = 0x02
    SOURCE_ACTIVE_ELSEWHERE = 0x03
    UNSUPPORTED_TYPE = 0x06
    SUCCESS = 0x10

    CLOSING = frozenset({UNKNOWN_SOURCE, ALL_SOCKETS_REGISTERED, DIFFERENT_SOURCE, SOURCE_ACTIVE_ELSEWHERE})
    """Codes after which the entity closes the socket."""
    ALIVE_CHECKED = frozenset({ALL_SOCKETS_REGISTERED, SOURCE_ACTIVE_ELSEWHERE})
    """Codes given only after the registered sockets in the way answered an alive check."""


@dataclass(eq=False)
class TcpSocket:
    """One TCP_DATA connection and what is registered on it."""

    sock: socket.socket
    version: int = 0x02
    source: int | None = None
    """The tester address activated on this socket (None: no routing activation yet)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    alive: threading.Event = field(default_factory=threading.Event)
    """Set when an alive check response (0x0008) arrives on this socket."""
    closed: threading.Event = field(default_factory=threading.Event)
    """Set once the socket is closed, by either side."""

    def send(self, message: object) -> None:
        self.send_raw(frame(message, self.version))

    def send_raw(self, data: bytes) -> None:
        with self.lock, contextlib.suppress(OSError):
            self.sock.sendall(data)


def activation_code(connection: TcpSocket, others: Sequence[TcpSocket], source: int, kind: int, *,
                    max_sockets: int) -> int:
    """The response code an activation of ``source`` (activation type ``kind``) on ``connection`` earns,
    ``others`` being the entity's other sockets, in the order of the routing activation handler;
    registering it on SUCCESS is the caller's (under the lock that guards the sockets)."""
    if source not in CLIENT_ADDRESSES:
        return Activation.UNKNOWN_SOURCE
    if kind not in ACTIVATION_TYPES:
        return Activation.UNSUPPORTED_TYPE
    if connection.source is not None and connection.source != source:
        return Activation.DIFFERENT_SOURCE
    if any(other.source == source for other in others):
        return Activation.SOURCE_ACTIVE_ELSEWHERE
    if connection.source is None and sum(other.source is not None for other in others) >= max_sockets:
        return Activation.ALL_SOCKETS_REGISTERED
    return Activation.SUCCESS


def silent_sockets(sockets: Sequence[TcpSocket], within: float = T_TCP_ALIVE_CHECK) -> list[TcpSocket]:
    """Alive-check ``sockets`` together; those that gave no alive check response ``within`` seconds."""
    for connection in sockets:
        connection.alive.clear()
        connection.send(AliveCheckRequest())
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and not all(
            connection.alive.is_set() or connection.closed.is_set() for connection in sockets):
        time.sleep(ALIVE_POLL)
    return [connection for connection in sockets if not connection.alive.is_set()]
