"""A virtual DoIP entity (ISO 13400-2) on loopback: TCP_DATA and UDP_DISCOVERY, routing to CAN ECUs
(a gateway) or to the ECU on Ethernet it is (a DoIP node).

The sockets, threads and state machine are the bench's; the payloads are doipclient's message
classes. Per TCP socket the gateway keeps the one source address activated on it (routing
activation 0x0005/0x0006; a socket in the way of an activation is alive-checked first,
``bench.doip.activation``), answers alive checks, and passes diagnostic messages (0x8001) to the
ECU behind it over ISO-TP after a positive ACK (0x8002), or refuses them with a NACK (0x8003).
``power_off``/``power_on`` (and ``reset``) drop every socket and activation: a tester must connect
and activate routing again. ``late_hops`` tells what the host's load held in the entity: diagnostic
messages handed to their route late from their arrival (kernel timestamp) or from the end of the
message before them, and answers its CAN routes took late.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Mapping, Sequence

from doipclient.messages import (
    AliveCheckRequest,
    AliveCheckResponse,
    DiagnosticMessage,
    DiagnosticMessageNegativeAcknowledgement,
    DiagnosticMessagePositiveAcknowledgement,
    RoutingActivationRequest,
    RoutingActivationResponse,
)

from bench.config.doip_models import DoipEntityConfig
from bench.errors import BenchFault
from bench.doip.activation import Activation, TcpSocket, activation_code, silent_sockets
from bench.doip.discovery import VehicleDiscovery
from bench.doip.header import DIAGNOSTIC_MESSAGE, HEADER, TCP_TYPES, Header, answer_version, decode, header_nack, judge
from bench.doip.nacks import NackCode, NackInjection, NackInjections
from bench.doip.routes import Route
from bench.transport.hop_lag import HopLag, late_hops, recv_stamped, stamp_arrivals

MAX_PAYLOAD = 0x10005
"""Largest payload a socket buffers (bytes): a diagnostic message of 64 KiB of UDS data and its addresses."""
POLL = 0.05


class DoipGateway:
    """The DoIP entity ``name`` of the bench file; ``routes`` are its routes by logical address (to
    the ECUs this bench brought up: over CAN, or the ECU the entity itself is), the others it lists
    are known but unreachable."""

    def __init__(self, name: str, entity: DoipEntityConfig, *, networks: Mapping[int, str | None] | None = None,
                 announce_to: Sequence[tuple[str, int]] = ()) -> None:
        self.name = name
        self.entity = entity
        self.routes: dict[int, Route] = {}
        self.networks = dict(networks or {})
        """Logical address of each ECU the file routes -> the CAN network (bus) it is on (None: the ECU
        the entity is): a target not brought up is unreachable (0x06) on a network the entity serves,
        else on an unknown network (0x07)."""
        self._injections = NackInjections()
        self._clients: dict[int, int] = {}
        """Route's logical address -> the tester address that last sent to it: where its answers go."""
        self._sockets: list[TcpSocket] = []
        self._state = threading.Lock()
        self._powered = threading.Event()
        self._stop = threading.Event()
        tcp: socket.socket | None = None
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            tcp = socket.create_server((entity.host, entity.port))
            udp.bind((entity.host, tcp.getsockname()[1]))
        except OSError as exc:
            udp.close()
            if tcp is not None:
                tcp.close()
            raise BenchFault(f"virtual DoIP entity {name!r} cannot listen on {entity.host}:{entity.port} "
                             f"(doip.entities.{name}.host/port): {exc}") from exc
        self._tcp, self._udp = tcp, udp
        self._tcp.settimeout(POLL)
        self._udp.settimeout(POLL)
        self._discovery = VehicleDiscovery(entity, udp, powered=self._powered, stop=self._stop,
                                           status=self._entity_status, max_payload=MAX_PAYLOAD)
        self._threads = [threading.Thread(target=self._accept, name=f"doip-{name}-tcp", daemon=True),
                         threading.Thread(target=self._discovery.serve, name=f"doip-{name}-udp", daemon=True)]
        self.activations = 0
        """Routing activations accepted since the gateway started (a tester's reconnections show here)."""
        self.fault: Exception | None = None
        """What broke a socket's thread, if anything did (``Bench.faults`` reports it)."""
        self.requests_lag = HopLag(f"DoIP entity {name}, tester->ECU")
        """Diagnostic messages handed to their route late because the socket's thread did not get the CPU."""
        self.announce_to = list(announce_to)
        """Where the vehicle announcement (0x0004) is sent at each power on, over UDP: a loopback bench
        has no broadcast domain, so its listeners are named."""

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) of TCP_DATA and UDP_DISCOVERY (the port the system gave when the file says 0)."""
        host, port = self._tcp.getsockname()[:2]
        return host, port

    def late_hops(self) -> list[str]:
        """For ``Bench.host_overload``: each hop of the entity that passed messages on late."""
        routes = late_hops(route.lag for route in self.routes.values() if route.lag is not None)
        return late_hops([self.requests_lag]) + [f"DoIP entity {self.name}, {text}" for text in routes]

    def add_route(self, route: Route) -> None:
        self.routes[route.logical_address] = route

    def start(self, *, powered: bool = True) -> None:
        """Routes and threads started; ``powered``: the entity serves at once (else at ``power_on``)."""
        for route in self.routes.values():
            route.start()
        for thread in self._threads:
            thread.start()
        if powered:
            self.power_on()

    def stop(self) -> None:
        self.power_off()
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._tcp.close()
        self._udp.close()
        for route in self.routes.values():
            route.stop()

    # -- power ---------------------------------------------------------------------------------
    def power_on(self) -> None:
        self._powered.set()
        self._discovery.announce(self.announce_to)

    def power_off(self) -> None:
        """Every TCP socket is closed and every activation forgotten, as at a power loss."""
        self._powered.clear()
        with self._state:
            dropped, self._sockets = self._sockets, []
        for connection in dropped:
            self._drop(connection)
        for route in self.routes.values():
            route.drop_pending()

    def set_power(self, on: bool) -> None:
        """``power_on`` or ``power_off``: for an entity whose power follows an ECU's (the ECU it is)."""
        if on:
            self.power_on()
        else:
            self.power_off()

    def reset(self) -> None:
        self.power_off()
        self.power_on()

    # -- UDP: vehicle identification (``bench.doip.discovery``) ---------------------------------
    def _entity_status(self) -> tuple[int, bool]:
        """(open TCP sockets, whether the entity is a DoIP node: every route the ECU it is itself)."""
        with self._state:
            open_sockets = len(self._sockets)
        return open_sockets, bool(self.routes) and all(route.network is None for route in self.routes.values())

    # -- TCP_DATA ------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._tcp.accept()
            except (TimeoutError, OSError):
                continue
            if not self._powered.is_set():
                _close(sock)
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
            connection = TcpSocket(sock)
            with self._state:
                self._sockets.append(connection)
            threading.Thread(target=self._serve, args=(connection,), name=f"doip-{self.name}-socket",
                             daemon=True).start()

    def _serve(self, connection: TcpSocket) -> None:
        sock = connection.sock
        sock.settimeout(POLL)
        stamp_arrivals(sock)
        buffer = b""
        free_since = 0.0
        """When (``time.time()``) the message before was done with: one behind it waits for it, not the host."""
        try:
            while not self._stop.is_set() and self._open(connection):
                try:
                    chunk, arrived = recv_stamped(sock, 0x10000)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= HEADER.size:
                    header = Header.parse(buffer)
                    verdict = judge(header, accepted=TCP_TYPES, max_length=MAX_PAYLOAD)
                    if verdict.nack is not None:
                        connection.send_raw(header_nack(verdict.nack, answer_version(header)))
                        if verdict.close:
                            return
                        buffer = _skip(sock, buffer, HEADER.size + header.length)
                        continue
                    end = HEADER.size + header.length
                    if len(buffer) < end:
                        break
                    connection.version = header.version
                    payload, buffer = buffer[HEADER.size:end], buffer[end:]
                    ready = max(arrived, free_since)
                    if header.payload_type == DIAGNOSTIC_MESSAGE:  # others may wait on purpose (alive checks)
                        self.requests_lag.holding = ready
                    carry_on = self._handle(connection, header.payload_type, payload, ready)
                    free_since, self.requests_lag.holding = time.time(), None
                    if not carry_on:
                        return
        except OSError:
            pass
        except Exception as exc:  # a bug of the gateway: a bench fault, not the ECU's
            self.fault = exc
        finally:
            self.requests_lag.holding = None
            self._drop(connection)

    def _drop(self, connection: TcpSocket) -> None:
        """The socket closed and its registration freed."""
        with self._state:
            if connection in self._sockets:
                self._sockets.remove(connection)
        _close(connection.sock)
        connection.closed.set()

    def _open(self, connection: TcpSocket) -> bool:
        with self._state:
            return connection in self._sockets

    def _handle(self, connection: TcpSocket, payload_type: int, payload: bytes, ready: float) -> bool:
        """Act on one message, there to be taken since ``ready`` (``time.time()``); False when the
        socket is to be closed."""
        message = decode(payload_type, payload)
        if isinstance(message, RoutingActivationRequest):
            return self._activate(connection, message.source_address, payload[2])
        if isinstance(message, AliveCheckRequest):
            connection.send(AliveCheckResponse(connection.source or 0x0000))
            return True
        if isinstance(message, DiagnosticMessage):
            return self._diagnostic(connection, message, ready)
        connection.alive.set()  # an alive check response: the socket is alive, nothing to answer
        return True

    def _activate(self, connection: TcpSocket, source: int, kind: int) -> bool:
        """``kind`` is read from the payload: doipclient's enum knows only the types it sends. A
        refusal for a registered socket in the way comes only after it answered an alive check."""
        code = self._register(connection, source, kind)
        if code in Activation.ALIVE_CHECKED:
            with self._state:
                in_the_way = [other for other in self._sockets if other is not connection and other.source is not None
                              and (code == Activation.ALL_SOCKETS_REGISTERED or other.source == source)]
            for silent in silent_sockets(in_the_way):
                self._drop(silent)
            code = self._register(connection, source, kind)
        connection.send(RoutingActivationResponse(source, self.entity.logical_address, code))
        return code not in Activation.CLOSING

    def _register(self, connection: TcpSocket, source: int, kind: int) -> int:
        """The activation's response code; on success ``source`` is registered on ``connection``."""
        with self._state:
            others = [other for other in self._sockets if other is not connection]
            code = activation_code(connection, others, source, kind, max_sockets=self.entity.max_sockets)
            if code == Activation.SUCCESS:
                connection.source = source
                self.activations += 1
            return code

    def inject_nack(self, code: int, *, service: int | None = None, nth: int = 1, count: int = 1,
                    target: int | None = None) -> NackInjection:
        """Refuse diagnostic messages with NACK ``code`` (``NackInjection``); the entity's own checks of
        the source address come first. Kept over resets until it has refused ``count`` messages."""
        return self._injections.add(NackInjection(code, service=service, nth=nth, count=count, target=target))

    def cancel_nacks(self) -> None:
        """Forget every injection that has not refused all its messages yet."""
        self._injections.clear()

    def _diagnostic(self, connection: TcpSocket, message: DiagnosticMessage, ready: float) -> bool:
        """Refused with a NACK (the socket closed after 0x02), or acknowledged once sent on to the ECU."""
        source, target, data = message.source_address, message.target_address, bytes(message.user_data)
        code, routes = self._refusal(connection, source, target, data)
        if code is None:
            functional = target == self.entity.functional_address
            self.requests_lag.note(time.time() - ready)
            self.requests_lag.holding = None  # what follows is ordering and the bus's time, not the host's
            with contextlib.ExitStack() as exchanges:
                for route in routes:
                    exchanges.enter_context(route.exchange)
                    self._clients[route.logical_address] = source
                if all([route.send(data, functional=functional) for route in routes]):
                    connection.send(DiagnosticMessagePositiveAcknowledgement(target, source, 0x00, data[:0]))
                    return True
            code = NackCode.TransportProtocolError
        connection.send(DiagnosticMessageNegativeAcknowledgement(target, source, code, data[:0]))
        return code != NackCode.InvalidSourceAddress  # ISO 13400-2 diagnostic message handler: close

    def _refusal(self, connection: TcpSocket, source: int, target: int,
                 data: bytes) -> tuple[int | None, list[Route]]:
        """The NACK code a message earns, in the order of the diagnostic message handler, or None
        and the routes it goes to."""
        if connection.source is None or source != connection.source:
            return NackCode.InvalidSourceAddress, []
        injected = self._injections.code_for(target, data)
        if injected is not None:
            return injected, []
        if target == self.entity.functional_address:
            routes = list(self.routes.values())
        elif target in self.routes:
            routes = [self.routes[target]]
        elif target in self.networks:  # routed by the file, but not brought up
            served = {route.network for route in self.routes.values()}
            return (NackCode.TargetUnreachable if self.networks[target] in served else NackCode.UnknownNetwork), []
        else:
            return NackCode.UnknownTargetAddress, []
        if any(len(data) > route.max_request for route in routes):
            return NackCode.DiagnosticMessageTooLarge, []
        return None, routes

    def answer(self, route: Route, data: bytes) -> None:
        """An ECU's answer from its route: to the socket where the tester address is activated."""
        client = self._clients.get(route.logical_address)
        with self._state:
            targets = [connection for connection in self._sockets if client is not None and connection.source == client]
        for connection in targets:
            connection.send(DiagnosticMessage(route.logical_address, client, data))


def _skip(sock: socket.socket, buffer: bytes, count: int) -> bytes:
    """Drop ``count`` bytes of the stream (a refused message), reading what has not arrived yet."""
    while len(buffer) < count:
        try:
            chunk = sock.recv(min(0x10000, count - len(buffer)))
        except TimeoutError:
            continue
        if not chunk:
            raise OSError("closed")
        buffer += chunk
    return buffer[count:]


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
