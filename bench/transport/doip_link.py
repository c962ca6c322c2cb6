"""The tester's side of one ECU reached over DoIP: doipclient's client and its udsoncan connector.

The same surface as ``uds_client.TesterLink`` (a udsoncan client timed by the ECU's session,
functional requests, TesterPresent), so the flasher and the diagnostics do not know which
transport they speak over. doipclient opens the TCP socket and activates routing; with
``auto_reconnect_tcp`` it connects and activates again when the gateway closed the socket (after a
gateway reset), on the next request.
"""

from __future__ import annotations

import threading
import time

from doipclient import DoIPClient
from doipclient.connectors import DoIPClientUDSConnector
from doipclient.messages import DiagnosticMessage
from udsoncan.exceptions import TimeoutException

from bench.config.models import DoipConfig, DoipEntityConfig, EcuProfile
from bench.transport.uds_client import RESPONSE_PENDING, TESTER_PRESENT_SUPPRESSED, SessionTimedClient


class BenchAwareDoipConnector(DoIPClientUDSConnector):
    """doipclient's UDS connector, told by the bench when it has switched the ECU off: a wait for an
    answer then ends at once (as ``uds_client.BenchAwareConnection`` does on CAN)."""

    SLICE = 0.05

    def __init__(self, doip: DoIPClient, tester_address: int) -> None:
        super().__init__(doip, close_connection=True)
        self.doip = doip
        self.tester_address = tester_address
        self.socket_lock = threading.Lock()
        """doipclient's client reads and writes its socket unguarded: one thread at a time (the
        TesterPresent keepalive sends between the slices of a wait)."""
        self.unpowered = threading.Event()
        self.missed_answers: list[str] = []
        """Kept for the bench's host-load report; a TCP tester has no ISO-TP stack to miss answers in."""

    def specific_wait_frame(self, timeout: float | None = 2) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.unpowered.is_set():
                raise TimeoutException("no answer: the bench has switched the ECU off")
            remaining = self.SLICE if deadline is None else min(self.SLICE, deadline - time.monotonic())
            if remaining <= 0:
                raise TimeoutException(f"no DoIP diagnostic message in time (timeout={timeout} sec)")
            try:
                with self.socket_lock:
                    return bytes(self.doip.receive_diagnostic(timeout=remaining))
            except TimeoutError:
                continue

    def specific_send(self, payload: bytes) -> None:
        with self.socket_lock:
            super().specific_send(payload)

    def send_to(self, address: int, payload: bytes, *, acknowledged: bool) -> None:
        """``payload`` to another logical address (a functional one); ``acknowledged``: wait for the ACK."""
        with self.socket_lock:
            if acknowledged:
                self.doip.send_diagnostic_to_address(address, bytearray(payload))
            else:
                self.doip.send_doip_message(
                    DiagnosticMessage(self.tester_address, address, bytearray(payload)))


class DoipLink:
    """Physical requests to the ECU's logical address; functional ones to the entity's functional address."""

    def __init__(self, entity: DoipEntityConfig, logical_address: int, doip: DoipConfig, profile: EcuProfile,
                 *, port: int | None = None) -> None:
        self._entity, self._logical_address, self._doip = entity, logical_address, doip
        self._port = entity.port if port is None else port
        self._profile = profile
        self.response_pending_seen = False

    def open(self) -> DoipLink:
        self.doip = DoIPClient(self._entity.host, self._logical_address, tcp_port=self._port,
                               udp_port=self._port, activation_type=self._doip.activation_type,
                               client_logical_address=self._doip.tester_address, auto_reconnect_tcp=True)
        self.connection = BenchAwareDoipConnector(self.doip, self._doip.tester_address)
        self.client = SessionTimedClient(self.connection, self._profile)  # type: ignore[arg-type]
        self.client.open()
        return self

    def close(self) -> None:
        self.client.close()

    def ecu_powered(self, powered: bool) -> None:
        if powered:
            self.connection.unpowered.clear()
        else:
            self.connection.unpowered.set()

    def discard_pending(self) -> None:
        self.client.conn.empty_rxqueue()

    def functional_request(self, payload: bytes, *, answer_within: float) -> bytes | None:
        """As ``TesterLink.functional_request``: sent to the functional address; this ECU's answer."""
        self.response_pending_seen = False
        if answer_within > 0:
            self.connection.empty_rxqueue()
        self.connection.send_to(self._entity.functional_address, payload, acknowledged=True)
        wait = answer_within
        while wait > 0:
            try:
                answer = self.connection.wait_frame(timeout=wait, exception=True)
            except TimeoutException:
                return None
            if answer is None:
                return None
            if answer[:2] == bytes([0x7F, payload[0]]) and answer[2:3] == RESPONSE_PENDING:
                wait = self.client.server_p2_star + self.client.floor.network_margin
                self.response_pending_seen = True
                continue
            return answer
        return None

    def tester_present_functional(self) -> None:
        self.connection.send_to(self._entity.functional_address, TESTER_PRESENT_SUPPRESSED, acknowledged=False)

    def __enter__(self) -> DoipLink:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
