"""A TCP relay between a DoIP tester and a DoIP entity that counts diagnostic messages and injects
TCP faults at a given one.

The relay reads each direction of a connection as DoIP messages (ISO 13400-2 generic header:
version, inverse, payload type, payload length) and forwards whole messages. A fault fires at the
``nth`` diagnostic message (payload type 0x8001) from the tester whose UDS service is ``service``:

- ``reset``: both sockets are closed with SO_LINGER 0, so each peer gets a TCP RST, not a FIN; the
  message is not forwarded;
- ``stall``: nothing is forwarded either way for ``seconds`` (no FIN), then the message and the rest;
- ``half_open``: the entity-to-tester direction is shut (the tester gets a FIN, reads nothing more)
  while the tester's messages still reach the entity.

``delay`` holds every message that long before forwarding it. Each direction's ``HopLag``
(``lags``) counts messages forwarded late from their arrival (kernel timestamp) though nothing of
the relay's meant to hold them: its thread did not get the CPU (``Bench.host_overload``). Every
forwarded chunk, FIN and RST is kept as a ``TcpEvent`` for the pcapng evidence
(``bench/ethernet/pcapng.py``). UDP_DISCOVERY datagrams to the relay's port (the same number, UDP)
are relayed too and kept in ``datagrams`` (``bench/ethernet/udp_relay.py``); faults apply to TCP only.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from bench.doip.header import DIAGNOSTIC_MESSAGE, HEADER
from bench.ethernet.direction import Direction
from bench.ethernet.udp_relay import UdpEvent, UdpRelay
from bench.errors import BenchFault, UsageError
from bench.transport.hop_lag import HopLag, recv_stamped, stamp_arrivals

DIAGNOSTIC_ADDRESSES = 4
"""Source and target address ahead of the UDS data in a diagnostic message."""
POLL = 0.05
"""How long a pump waits for data before it looks whether its connection was aborted or closed (s)."""
_LINGER_ZERO = struct.pack("ii", 1, 0)


@dataclass(frozen=True)
class TcpEvent:
    """What the relay did on one connection: ``data`` forwarded, or a ``fin``/``rst`` sent that way."""
    time: float
    connection: int
    direction: Direction
    tester: tuple[str, int]
    """The tester's address and port of this connection."""
    data: bytes = b""
    flag: str = ""
    """"" for data, "S" for the connection opened, "F" for a FIN, "R" for a RST."""


@dataclass(frozen=True)
class RelayFault:
    kind: str
    """"reset", "stall" or "half_open"."""
    service: int
    """The UDS service identifier (first byte of the diagnostic message's user data) that triggers it."""
    nth: int = 1
    """Fires at the nth such diagnostic message from the tester, counted over all connections."""
    seconds: float = 0.0
    """How long a stall lasts."""

    KINDS = ("reset", "stall", "half_open")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise UsageError(f"relay fault kind {self.kind!r} unknown; one of: {', '.join(self.KINDS)}")
        if self.nth < 1:
            raise UsageError(f"relay fault nth={self.nth}: counts from 1")
        if self.kind == "stall" and self.seconds <= 0:
            raise UsageError("relay fault stall needs seconds > 0")


def split_messages(buffer: bytearray) -> list[bytes]:
    """The whole DoIP messages at the start of ``buffer``, taken out of it; a partial one stays."""
    messages = []
    while len(buffer) >= HEADER.size:
        length = HEADER.unpack_from(buffer)[3]
        if len(buffer) < HEADER.size + length:
            break
        messages.append(bytes(buffer[:HEADER.size + length]))
        del buffer[:HEADER.size + length]
    return messages


def uds_service(message: bytes) -> int | None:
    """The UDS service of a diagnostic message, or None for another payload type (or no data)."""
    payload_type = HEADER.unpack_from(message)[2]
    start = HEADER.size + DIAGNOSTIC_ADDRESSES
    if payload_type != DIAGNOSTIC_MESSAGE or len(message) <= start:
        return None
    return message[start]


class _Connection:
    def __init__(self, relay: DoipRelay, number: int, tester: socket.socket, address: tuple[str, int],
                 entity: socket.socket) -> None:
        self.relay, self.number, self.address = relay, number, address
        self.sockets = {Direction.TO_ENTITY: entity, Direction.TO_TESTER: tester}
        self.lock = threading.Lock()
        self.reset = False
        self.closed = False
        self.shut: set[Direction] = set()
        self.held_until = dict.fromkeys(Direction, 0.0)
        """Per direction, when (``time.time()``) a fault or the delay last held it: a message that
        arrived before was held on purpose, not by the host."""

    def source(self, direction: Direction) -> socket.socket:
        return self.sockets[Direction.TO_TESTER if direction is Direction.TO_ENTITY else Direction.TO_ENTITY]

    def pump(self, direction: Direction) -> None:
        buffer = bytearray()
        lag = self.relay.lags[direction]
        source = self.source(direction)
        stamp_arrivals(source)
        while True:
            try:
                # a socket closed while another thread blocks in its recv stays open in the kernel
                # until that recv returns: poll, so that an abort's RST goes out at once
                if not select.select([source], [], [], POLL)[0]:
                    if self.reset or self.closed:
                        return
                    continue
                chunk, arrived = recv_stamped(source, 65536)
            except (OSError, ValueError):  # closed meanwhile: fileno -1
                chunk = b""
            if not chunk:
                self._finish(direction)
                return
            buffer += chunk
            for message in split_messages(buffer):
                lag.holding = arrived if arrived > self.held_until[direction] else None
                forwarded = self._forward(direction, message, arrived)
                lag.holding = None
                if not forwarded:
                    return

    def _forward(self, direction: Direction, message: bytes, arrived: float) -> bool:
        """``message`` (whose last bytes reached the host at ``arrived``) sent on, unless a fault stops
        it; noted in the direction's lag if it is ``holding`` it (nothing held it on purpose)."""
        lag = self.relay.lags[direction]
        fault = self.relay._fault_for(direction, message)
        held = fault is not None
        if self.relay.delay > 0:
            lag.holding = None
            time.sleep(self.relay.delay)
            held = True
        if fault is not None and fault.kind == "reset":
            self.abort()
            return False
        if fault is not None and fault.kind == "stall":
            self.relay._stall_until = time.monotonic() + fault.seconds
        if fault is not None and fault.kind == "half_open":
            self.shut_direction(Direction.TO_TESTER)
        held = self.relay._wait_stall(lag) or held
        with self.lock:
            if self.reset:
                return False
            if direction in self.shut:
                return True  # that direction is closed: the bytes are dropped
            try:
                self.sockets[direction].sendall(message)
            except OSError:
                return False
            now = self.relay._record(self, direction, data=message)
        if held:
            self.held_until[direction] = now
        elif lag.holding is not None:
            lag.note(now - arrived)
        return True

    def shut_direction(self, direction: Direction) -> None:
        with self.lock:
            if direction in self.shut or self.reset:
                return
            self.shut.add(direction)
            try:
                self.sockets[direction].shutdown(socket.SHUT_WR)
            except OSError:
                return
            self.relay._record(self, direction, flag="F")

    def _finish(self, direction: Direction) -> None:
        """The source of ``direction`` closed (or broke): pass its FIN on."""
        self.shut_direction(direction)
        with self.lock:
            done = self.shut == set(Direction) and not self.reset
        if done:
            self._close()

    def abort(self) -> None:
        """A TCP RST to both peers."""
        with self.lock:
            if self.reset or self.closed:
                return
            self.reset = True
            for direction, sock in self.sockets.items():
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
                if direction not in self.shut:
                    self.relay._record(self, direction, flag="R")
                sock.close()

    def _close(self) -> None:
        with self.lock:
            self.closed = True
            for sock in self.sockets.values():
                sock.close()


class DoipRelay:
    """Listens on ``host`` (an ephemeral port unless given) and relays each connection to ``upstream``."""

    def __init__(self, upstream: tuple[str, int], *, host: str = "127.0.0.1", port: int = 0,
                 name: str = "DoIP relay") -> None:
        self.upstream = upstream
        self.lags = {direction: HopLag(f"{name}, {direction.value}") for direction in Direction}
        """Messages each direction forwarded late because its thread did not get the CPU."""
        self.faults: list[RelayFault] = []
        self.delay = 0.0
        """Seconds every message is held before it is forwarded."""
        self.diagnostic_counts: dict[int, int] = {}
        """Diagnostic messages from the tester so far, by UDS service."""
        self.events: list[TcpEvent] = []
        self.fired: list[RelayFault] = []
        self.connections = 0
        self._stall_until = 0.0
        self._lock = threading.Lock()
        self._listener = socket.create_server((host, port))
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self.datagrams: list[UdpEvent] = []
        """Vehicle identification and other UDP_DISCOVERY datagrams relayed, both ways, in order."""
        try:
            self._udp = UdpRelay(upstream, host=host, port=self.address[1], record=self._record_datagram)
        except OSError as exc:
            self._listener.close()
            raise BenchFault(f"DoIP relay cannot listen for UDP on {host}:{self.address[1]}: {exc}") from exc
        self._open: list[_Connection] = []
        self._thread = threading.Thread(target=self._accept, name=f"doip-relay-{self.address[1]}", daemon=True)

    def start(self) -> DoipRelay:
        self._thread.start()
        self._udp.start()
        return self

    def _record_datagram(self, event: UdpEvent) -> None:
        with self._lock:
            self.datagrams.append(event)

    def inject(self, fault: RelayFault) -> None:
        with self._lock:
            self.faults.append(fault)

    # -- faults now, on every open connection (a fault kind's action at its trigger point) --------
    def reset_now(self) -> int:
        """A TCP RST to both peers of every open connection; how many there were."""
        connections = self._live()
        for connection in connections:
            connection.abort()
        return len(connections)

    def stall(self, seconds: float) -> None:
        """Nothing forwarded either way for ``seconds`` from now (no FIN): what arrives meanwhile is held."""
        self._stall_until = time.monotonic() + seconds

    def half_open_now(self) -> int:
        """Every open connection's entity-to-tester direction shut (a FIN to the tester); how many."""
        connections = self._live()
        for connection in connections:
            connection.shut_direction(Direction.TO_TESTER)
        return len(connections)

    def clear(self) -> None:
        """End a stall and the delay now; armed ``RelayFault``s stay armed."""
        self._stall_until = 0.0
        self.delay = 0.0

    def _live(self) -> list[_Connection]:
        with self._lock:
            return [connection for connection in self._open if not (connection.reset or connection.closed)]

    def _accept(self) -> None:
        while True:
            try:
                tester, address = self._listener.accept()
            except OSError:
                return  # stopped
            try:
                entity = socket.create_connection(self.upstream, timeout=2.0)
            except OSError:
                tester.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
                tester.close()  # the entity is not there: the tester sees a refused connection as a reset
                continue
            entity.settimeout(None)
            for sock in (tester, entity):  # a message forwarded as it came, not held for Nagle's algorithm
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
                connection = _Connection(self, self.connections, tester, address[:2], entity)
                self._open.append(connection)
            self._record(connection, Direction.TO_ENTITY, flag="S")
            for direction in Direction:
                threading.Thread(target=connection.pump, args=(direction,), daemon=True,
                                 name=f"doip-relay-{connection.number}-{direction.name}").start()

    def _fault_for(self, direction: Direction, message: bytes) -> RelayFault | None:
        """Counts a diagnostic message from the tester; the fault armed for it, taken out, if any."""
        service = uds_service(message) if direction is Direction.TO_ENTITY else None
        if service is None:
            return None
        with self._lock:
            count = self.diagnostic_counts[service] = self.diagnostic_counts.get(service, 0) + 1
            for fault in self.faults:
                if fault.service == service and fault.nth == count:
                    self.faults.remove(fault)
                    self.fired.append(fault)
                    return fault
        return None

    def _wait_stall(self, lag: HopLag) -> bool:
        """Until the stall ends, or is cleared (looked at every POLL); whether there was one to wait
        for (then the message ``lag`` is ``holding`` is held on purpose)."""
        stalled = False
        while (remaining := self._stall_until - time.monotonic()) > 0:
            stalled, lag.holding = True, None
            time.sleep(min(remaining, POLL))
        return stalled

    def _record(self, connection: _Connection, direction: Direction, *, data: bytes = b"", flag: str = "") -> float:
        """The event kept; when (``time.time()``)."""
        now = time.time()
        with self._lock:
            self.events.append(TcpEvent(now, connection.number, direction, connection.address, data, flag))
        return now

    def stop(self) -> None:
        self._udp.stop()
        with contextlib.suppress(OSError):  # wakes the accept() a close alone leaves blocked
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            connection._close()
        self._thread.join(timeout=2.0)
