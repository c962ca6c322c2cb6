"""The tester's side of ECUs reached over DoIP: doipclient's client and its udsoncan connector.

A tester has one source address, and a DoIP entity accepts it on one TCP socket only (a second
routing activation is refused with 0x03), so every ECU behind one entity shares one
``DoipSession``: doipclient's ``DoIPClient``, read by whichever link waits, each diagnostic message
kept for the ECU that sent it. doipclient opens the socket and activates routing; with
``auto_reconnect_tcp`` it connects and activates again when the entity closed the socket (after a
gateway reset), on the next request.

``DoipLink`` has the surface of ``uds_client.TesterLink`` (a udsoncan client timed by the ECU's
session, functional requests, TesterPresent), so the flasher and the diagnostics do not know which
transport they speak over.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from collections import defaultdict, deque

from doipclient import DoIPClient
from doipclient.connectors import DoIPClientUDSConnector
from doipclient.messages import (
    DiagnosticMessage,
    DiagnosticMessageNegativeAcknowledgement,
    DiagnosticMessagePositiveAcknowledgement,
)
from udsoncan.exceptions import TimeoutException

from bench.config.doip_models import DoipConfig, DoipEntityConfig
from bench.config.models import EcuProfile
from bench.transport.hop_lag import recv_stamped, stamp_arrivals
from bench.transport.uds_client import (TESTER_PRESENT_SUPPRESSED, PoweredLink, SessionTimedClient, answers,
                                        functional_answer)

logger = logging.getLogger(__name__)

NackCode = DiagnosticMessageNegativeAcknowledgement.NackCodes
"""ISO 13400-2 diagnostic message negative acknowledge codes (doipclient's table)."""
A_PROCESSING_TIME = 2.0
"""ISO 13400-2 A_DoIP_Diagnostic_Message: how long an entity may take to acknowledge a diagnostic message."""
SLICE = 0.02
"""How long one read of the socket lasts: a reader holds the socket no longer before others may send
(the TesterPresent keepalive, another ECU's link)."""


RECONNECT_POLL = 0.05
"""Seconds between the tester's attempts to connect and activate routing again after the entity
closed or reset its socket."""
CATCH_UP = 16
"""Messages a timed-out wait reads at most from what already reached the socket (to tell the host's load)."""


class StampedSocket:
    """A TCP socket whose reads keep, in ``arrived``, when (``time.time()``) the kernel received
    their last bytes; everything else is the socket's."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.arrived = 0.0
        stamp_arrivals(sock)

    def recv(self, size: int) -> bytes:
        data, self.arrived = recv_stamped(self._sock, size)
        return data

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


class SlicedDoIPClient(DoIPClient):
    """doipclient's client with its TCP socket read in slices of ``SLICE``.

    doipclient gives its socket a 2 s timeout (A_PROCESSING_TIME) and checks its own ``read_doip``
    timeout only between reads, so a read for an answer that does not come (a suppressed one) would
    block for 2 s whatever it was asked to wait, and hold the socket from the other links. Its
    ``_connect`` (every connect and reconnect) and ``_tcp_sock`` are internals, checked in
    tests/test_library_internals.py. Its socket keeps when what it read arrived (``arrived``)."""

    def _connect(self) -> None:
        super()._connect()
        self._tcp_sock.settimeout(SLICE)
        self._tcp_sock = StampedSocket(self._tcp_sock)

    @property
    def arrived(self) -> float:
        """When (``time.time()``) the kernel received the bytes of the last read (0: none yet)."""
        return getattr(self._tcp_sock, "arrived", 0.0)

    def reconnect(self, close_delay: float = RECONNECT_POLL) -> None:
        """doipclient's reconnect (close, wait ``close_delay``, connect, activate routing), which its
        send calls without arguments when the entity closed the socket, and then waits
        A_PROCESSING_TIME (2 s) for the entity to forget the old one. Here it tries again every
        ``close_delay`` while the entity refuses (no listener yet, or the tester's address still
        active on the old socket: 0x03), for at most A_PROCESSING_TIME: a tester back as soon as the
        entity takes it, as a flash over DoIP needs after every TCP fault."""
        deadline = time.monotonic() + A_PROCESSING_TIME
        while True:
            try:
                super().reconnect(close_delay)
                return
            except ConnectionError:
                if time.monotonic() + close_delay > deadline:
                    raise


def nack_meaning(code: int) -> str:
    """ISO 13400-2's name of a diagnostic message NACK code: ``0x06`` -> ``target unreachable``."""
    try:
        name = NackCode(code).name
    except ValueError:
        return "reserved by ISO 13400-2"
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()


class DiagnosticNack(TimeoutException):
    """The DoIP entity refused a diagnostic message (0x8003): it never reached the ECU, so no answer
    can come. The flasher treats it as a request left unanswered (a block is sent again); its
    timeline and failure name the NACK and its meaning, not a timeout."""

    def __init__(self, target: int, code: int, payload: bytes) -> None:
        self.target, self.code = target, code
        self.outcome = f"DoIP NACK {code:#04x} ({nack_meaning(code)})"
        """What a timeline step says of it."""
        super().__init__(f"the DoIP entity refused the diagnostic message {payload[:1].hex()} to {target:#06x} "
                         f"with {self.outcome}: it never reached the ECU")


class ConnectionLost(TimeoutException):
    """The entity's TCP connection was reset while the tester waited on it, or doipclient could not
    connect and activate routing again before a send (the entity is off): what was awaited or sent is
    lost. To the flasher this is an ECU that did not answer (it retries); doipclient connects and
    activates routing again on the next send, where it finds the socket closed."""

    def __init__(self, error: OSError) -> None:
        super().__init__(f"DoIP connection to the entity lost ({type(error).__name__}: {error}); no answer can come")


class DoipSession:
    """The tester's one TCP connection to a DoIP entity, shared by the links of the ECUs behind it."""

    def __init__(self, entity: DoipEntityConfig, doip: DoipConfig, *, port: int | None = None) -> None:
        self.tester_address = doip.tester_address
        port = entity.port if port is None else port
        self.client = SlicedDoIPClient(entity.host, entity.logical_address, tcp_port=port, udp_port=port,
                                 activation_type=doip.activation_type, client_logical_address=doip.tester_address,
                                 auto_reconnect_tcp=True)
        self._lock = threading.Lock()
        """doipclient reads and writes its socket unguarded: one thread at a time."""
        self._answers: dict[int, deque[bytes]] = defaultdict(deque)
        self._acks: dict[int, deque[object]] = {}
        self._arrived: dict[int, float] = {}
        """When the latest diagnostic message from each address reached the host."""
        self._ack_arrived: dict[int, float] = {}
        self.missed_acks: list[str] = []
        """Acknowledgements that reached the host in time but were read too late: the tester's
        threads did not get the CPU (``Bench.host_overload``)."""

    def send(self, target: int, payload: bytes, *, acknowledged: bool) -> None:
        """A diagnostic message to ``target``; ``acknowledged``: wait for the entity's ACK (a NACK raises)."""
        with self._lock:
            if acknowledged:
                self._acks[target] = deque()
            try:
                try:
                    self.client.send_doip_message(DiagnosticMessage(self.tester_address, target, bytearray(payload)))
                except OSError as error:  # TimeoutError and ConnectionRefusedError of a failed reconnection too
                    raise ConnectionLost(error) from error
                if acknowledged:
                    self._await_ack(target, payload)
            finally:
                self._acks.pop(target, None)

    def _await_ack(self, target: int, payload: bytes) -> None:
        sent_at = time.time()
        deadline = time.monotonic() + A_PROCESSING_TIME
        while not self._acks[target]:
            if time.monotonic() > deadline:
                self._catch_up()
                if self._acks[target] and self._ack_arrived[target] <= sent_at + A_PROCESSING_TIME:
                    self.missed_acks.append(
                        f"the entity's acknowledgement of a diagnostic message to {target:#06x} reached the tester "
                        f"{(self._ack_arrived[target] - sent_at) * 1000:.0f} ms after it was sent, but the tester's "
                        f"threads did not get the CPU to take it within {A_PROCESSING_TIME * 1000:.0f} ms")
                raise TimeoutException(f"DoIP entity did not acknowledge a diagnostic message to {target:#06x} "
                                       f"within {A_PROCESSING_TIME} s")
            self._read(deadline - time.monotonic())
        answer = self._acks[target].popleft()
        if isinstance(answer, DiagnosticMessageNegativeAcknowledgement):
            raise DiagnosticNack(target, int(answer.nack_code), payload)

    def receive(self, source: int, timeout: float) -> bytes | None:
        """The next diagnostic message from ``source``, or None if none came within ``timeout``."""
        with self._lock:
            if not self._answers[source]:
                self._read(timeout)
            return self._answers[source].popleft() if self._answers[source] else None

    def arrived_since(self, source: int, request: bytes | None, since: float) -> float | None:
        """For a wait that timed out: when the latest message from ``source`` reached the host, if it
        came after ``since`` (``time.time()``) and answers ``request``; None if none did. Reads what
        already reached the socket first."""
        with self._lock:
            self._catch_up()
            queued = self._answers[source]
            if not queued or self._arrived[source] < since:
                return None
            return self._arrived[source] if request is None or answers(queued[-1], request) else None

    def _catch_up(self) -> None:
        """What already reached the socket, read (at most ``CATCH_UP`` messages)."""
        for _ in range(CATCH_UP):
            if not self._read(0.001):
                return

    def drop(self, source: int) -> None:
        with self._lock:
            self._answers[source].clear()

    def _read(self, timeout: float) -> bool:
        """One message read, if one comes within ``timeout``; whether one came."""
        try:
            message = self.client.read_doip(timeout=max(timeout, 0.001))
        except TimeoutError:
            return False
        except (ConnectionResetError, BrokenPipeError) as error:
            raise ConnectionLost(error) from error
        if isinstance(message, DiagnosticMessage) and message.target_address == self.tester_address:
            self._answers[message.source_address].append(bytes(message.user_data))
            self._arrived[message.source_address] = self.client.arrived
        elif isinstance(message, (DiagnosticMessagePositiveAcknowledgement,
                                  DiagnosticMessageNegativeAcknowledgement)):
            waiting = self._acks.get(message.source_address)
            if waiting is not None:
                waiting.append(message)
                self._ack_arrived[message.source_address] = self.client.arrived
        return message is not None

    def close(self) -> None:
        with self._lock:
            self.client.close()


class BenchAwareDoipConnector(DoIPClientUDSConnector):
    """doipclient's UDS connector for one ECU on a shared session, told by the bench when it has
    switched the ECU off: a wait for an answer then ends at once (as on CAN)."""

    def __init__(self, session: DoipSession, logical_address: int) -> None:
        super().__init__(session.client, close_connection=False)  # the session is the bench's to close
        self.session, self.logical_address = session, logical_address
        self.unpowered = threading.Event()
        self.missed_answers: list[str] = []
        """Waits that timed out although the answer had reached the tester's socket in time: the
        tester's threads did not get the CPU (a loaded host), not a silent ECU."""
        self._request: bytes | None = None
        """The request awaiting its answer."""
        self._sent_at = float("inf")

    def request_sent(self, request: bytes | None) -> None:
        """``request`` went out (physically, or functionally by ``DoipLink``): only its answer counts."""
        self._sent_at = time.time()
        self._request = request or None

    def specific_send(self, payload: bytes) -> None:
        self.request_sent(payload)
        self.session.send(self.logical_address, payload, acknowledged=True)

    def specific_wait_frame(self, timeout: float | None = 2) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.unpowered.is_set():
                raise TimeoutException("no answer: the bench has switched the ECU off")
            remaining = SLICE if deadline is None else min(SLICE, deadline - time.monotonic())
            if remaining <= 0:
                assert deadline is not None and timeout is not None
                self._note_missed(deadline, timeout)
                raise TimeoutException(f"no DoIP diagnostic message in time (timeout={timeout} sec)")
            answer = self.session.receive(self.logical_address, remaining)
            if answer is None:
                continue
            if self._request is not None and not answers(answer, self._request):
                # ISO 14229-2: the client takes only a response to its own request (a late answer to an
                # earlier one, held by a stalled connection, is not it)
                logger.info("ignored %s while awaiting the answer to %s", answer.hex(" "), self._request[:4].hex(" "))
                continue
            return answer

    def _note_missed(self, deadline: float, timeout: float) -> None:
        """The wait of ``timeout`` s until ``deadline`` (``time.monotonic()``) timed out: an answer that
        reached the socket by then, after the request, was the host's to miss."""
        arrived = self.session.arrived_since(self.logical_address, self._request, self._sent_at)
        if arrived is not None and arrived <= time.time() - (time.monotonic() - deadline):
            self.missed_answers.append(
                f"the tester's socket received an answer {(arrived - self._sent_at) * 1000:.0f} ms after the request, "
                f"but the tester's threads did not get the CPU to take it within {timeout * 1000:.0f} ms")

    def empty_rxqueue(self) -> None:
        self.session.drop(self.logical_address)


class DoipLink(PoweredLink):
    """Physical requests to the ECU's logical address; functional ones to the entity's functional address."""

    def __init__(self, session: DoipSession, entity: DoipEntityConfig, logical_address: int,
                 profile: EcuProfile) -> None:
        self._functional_address = entity.functional_address
        self.connection = BenchAwareDoipConnector(session, logical_address)
        self.client = SessionTimedClient(self.connection, profile)  # type: ignore[arg-type]
        self.response_pending_seen = False

    def open(self) -> DoipLink:
        self.client.open()
        return self

    def close(self) -> None:
        self.client.close()

    def discard_pending(self) -> None:
        self.connection.empty_rxqueue()

    def functional_request(self, payload: bytes, *, answer_within: float) -> bytes | None:
        """As ``TesterLink.functional_request``: sent to the functional address; this ECU's answer."""
        self.response_pending_seen = False
        if answer_within > 0:
            self.connection.empty_rxqueue()
        self.connection.request_sent(payload)  # before the send, which waits for the entity's ACK
        self.connection.session.send(self._functional_address, payload, acknowledged=True)
        answer, self.response_pending_seen = functional_answer(self.client, payload, answer_within)
        return answer

    def tester_present_functional(self) -> None:
        """Lost with the connection if it is down: the next request connects again."""
        with contextlib.suppress(ConnectionLost):
            self.connection.session.send(self._functional_address, TESTER_PRESENT_SUPPRESSED, acknowledged=False)
