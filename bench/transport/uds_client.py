"""The tester's side of one ECU: can-isotp stacks on the tester bus and a udsoncan client."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Protocol, Self

import can
import udsoncan
from udsoncan.client import Client
from udsoncan.connections import PythonIsoTpV2Connection
from udsoncan.exceptions import NegativeResponseException, TimeoutException

from bench.config.key_functions import resolve_security_key
from bench.config.models import BusConfig, EcuConfig, EcuProfile
from bench.errors import BenchFault
from bench.transport.functional_send import FunctionalSender
from bench.transport.isotp_link import AddressedStack, address, make_stack

TESTER_PRESENT_SUPPRESSED = b"\x3e\x80"
RESPONSE_PENDING = b"\x78"
BUSY_REPEAT_REQUEST = 0x21
N_AS = 1.0
"""ISO 15765-2 N_As timeout (seconds): a frame not on the bus by then is lost."""

logger = logging.getLogger(__name__)


SUB_FUNCTION_SERVICES = frozenset({0x10, 0x11, 0x19, 0x27, 0x28, 0x31, 0x3E, 0x85})
"""Services whose first parameter byte is a sub-function with the suppressPosRspMsgIndicationBit (bit 7)."""

ECHOED = {0x10: 1, 0x11: 1, 0x19: 1, 0x27: 1, 0x28: 1, 0x3E: 1, 0x85: 1, 0x31: 3, 0x22: 2, 0x2E: 2, 0x2F: 2,
          0x36: 1}
"""Services whose positive response repeats the request's first parameter bytes (ISO 14229-1): the
sub-function (bit 7 cleared), a routine's control type and identifier, the (first) DID, and
TransferData's blockSequenceCounter."""


def answers(response: bytes, request: bytes) -> bool:
    """Whether ``response`` answers ``request``: 7F and its SID, or its positive response SID with
    what that response repeats of the request (``ECHOED``). A late answer to an earlier request of
    the same service (``50 03`` while ``10 02`` waits, TransferData's ``76 05`` while block 6
    waits) is not an answer; a negative one repeats only the SID, so it cannot be told apart."""
    service = request[0]
    if response[:1] == b"\x7f":
        return response[:2] == bytes([0x7F, service])
    if response[:1] != bytes([service + 0x40]):
        return False
    echo = bytearray(request[1:1 + ECHOED.get(service, 0)])
    if echo and service in SUB_FUNCTION_SERVICES:
        echo[0] &= 0x7F
    return response[1:1 + len(echo)] == echo


class RawDid(udsoncan.DidCodec):
    """A DID read as the raw bytes the ECU sent, whatever their length."""

    def encode(self, value: bytes) -> bytes:  # type: ignore[override]
        return bytes(value)

    def decode(self, payload: bytes) -> bytes:  # type: ignore[override]
        return bytes(payload)

    def __len__(self) -> int:
        raise udsoncan.DidCodec.ReadAllRemainingData


def client_config(profile: EcuProfile) -> dict[str, object]:
    """udsoncan settings from the ECU profile: the profile's timings, never library defaults.

    The tester waits P2/P2* plus the profile's ``network_margin`` (ISO 14229-2's ΔP2). Every 0x78
    (response pending) restarts P2*, with no overall limit (``request_timeout`` None): ISO 14229-2
    sets none, and an ECU erasing megabytes may keep the tester waiting for minutes. A flash step's
    overall limit, where a profile wants one, is its ``timing.step_budget`` (``SessionTimedClient.budget``).
    """
    timing = profile.timing
    network_margin = timing.network_margin
    dids = profile.dids
    codecs = {did: RawDid for did in (dids.version, dids.fingerprint, dids.journal, dids.boot_state,
                                     *dids.identification.values())}
    return {
        **udsoncan.configs.default_client_config,
        "security_algo": resolve_security_key(profile.security),
        "security_algo_params": dict(profile.security.key_params),
        "data_identifiers": codecs,
        "p2_timeout": timing.p2 + network_margin,
        "p2_star_timeout": timing.p2_star + network_margin,
        "request_timeout": None,
        "use_server_timing": False,  # SessionTimedClient applies them, over the profile's floor and with ΔP2
        "server_address_format": 8 * profile.memory.address_bytes,
        "server_memorysize_format": 8 * profile.memory.length_bytes,
    }


class SessionTimedClient(Client):
    """udsoncan's client, timed by the session the ECU is in (ISO 14229-2).

    A positive DiagnosticSessionControl response announces P2server_max and P2*server_max for the
    session it opens; the tester waits those, never less than the profile's (its floor), plus ΔP2.
    udsoncan's own ``use_server_timing`` would take them as they come, below the floor and without
    ΔP2. After a positive ECUReset the ECU runs its default session again: the profile's timings.
    """

    def __init__(self, conn: PythonIsoTpV2Connection, profile: EcuProfile) -> None:
        super().__init__(conn, config=client_config(profile))
        self.floor = profile.timing
        self.server_p2 = self.floor.p2
        """P2server_max of the session the ECU is in (seconds): announced, or the profile's floor."""
        self.server_p2_star = self.floor.p2_star
        """P2*server_max of that session (seconds)."""

    def send_request(self, request: udsoncan.Request, timeout: int = -1):  # noqa: ANN201 - udsoncan's Response
        """ISO 14229-1 busyRepeatRequest (NRC 0x21): the server is temporarily too busy and the client
        repeats the identical request; here after the session's P2server_max, for at most its
        P2*server_max in all (an ECU busy longer than it may keep a request pending: the 0x21 stands)."""
        give_up = time.monotonic() + self.server_p2_star
        while True:
            try:
                return super().send_request(request, timeout)
            except NegativeResponseException as exc:
                if exc.response.code != BUSY_REPEAT_REQUEST or time.monotonic() >= give_up:
                    raise
            logger.info("the ECU is busy (0x21): repeating %s", request.get_payload().hex(" "))
            time.sleep(self.server_p2)

    def change_session(self, newsession: int):  # noqa: ANN201 - udsoncan's interpreted response
        response = super().change_session(newsession)
        if response is not None and response.positive and response.service_data.p2_server_max is not None:
            data = response.service_data  # (no timing record before ISO 14229-1:2013, standard_version 2006)
            self._use_server_timing(data.p2_server_max, data.p2_star_server_max)
        return response

    def ecu_reset(self, reset_type: int):  # noqa: ANN201 - udsoncan's interpreted response
        response = super().ecu_reset(reset_type)
        if response is not None and response.positive:
            self._use_server_timing(self.floor.p2, self.floor.p2_star)
        return response

    def _use_server_timing(self, p2: float, p2_star: float) -> None:
        self.server_p2 = max(self.floor.p2, p2)
        self.server_p2_star = max(self.floor.p2_star, p2_star)
        self.set_config("p2_timeout", self.server_p2 + self.floor.network_margin)
        self.set_config("p2_star_timeout", self.server_p2_star + self.floor.network_margin)

    @contextlib.contextmanager
    def budget(self, seconds: float | None) -> Iterator[None]:
        """Requests inside take ``seconds`` in all at most, 0x78 or not (None: no overall limit)."""
        saved = self.config["request_timeout"]
        self.set_config("request_timeout", seconds)
        try:
            yield
        finally:
            self.set_config("request_timeout", saved)


class BenchAwareConnection(PythonIsoTpV2Connection):
    """udsoncan's can-isotp connection, with P2 timed as ISO 14229-2 times it, and told by the
    bench when it has switched the ECU off.

    P2client runs from the end of the request's transmission (N_USData.con), not from the call
    that queued it: a 4 KiB TransferData takes a good part of a second on a 500 kbit/s bus,
    and only once it is on the bus may the ECU take its P2. While the request is still being
    sent, can-isotp's own N_Bs timeout bounds the wait for flow control.

    If can-isotp's thread dies (the adapter went away under it), the request can never finish:
    the wait ends with a ``BenchFault`` instead of lasting for ever.

    A tester waiting for an answer keeps waiting out P2 + ΔP2 however the ECU fell silent; a
    bench that cut the ECU's power itself knows no answer can come, and ends the wait at once
    with the same ``TimeoutException`` (network faults still time out the ordinary way).
    """

    SLICE = 0.01
    """How often a wait looks whether the ECU lost power (only while an answer is awaited)."""

    def __init__(self, isotp_layer: AddressedStack) -> None:
        super().__init__(isotp_layer)
        self.unpowered = threading.Event()
        self.missed_answers: list[str] = []
        """Waits that timed out although the answer had begun to reach the tester's stack (its
        single or first frame) in time: the tester's threads did not get the CPU (a loaded host),
        not a silent ECU."""
        self._sent_at = float("inf")
        self._request: bytes | None = None
        """The request awaiting its answer: an answer to another one is an earlier request's, late
        (its final answer after a 0x78 the tester no longer waited for)."""

    def request_sent(self, request: bytes | None = None) -> None:
        """``request`` went out (physically, or functionally by ``TesterLink``): answers count from now."""
        self._sent_at = time.monotonic()
        self._request = request or None

    def specific_send(self, payload: bytes, timeout: float | None = None) -> None:
        self.request_sent(payload)
        super().specific_send(payload, timeout)

    def specific_wait_frame(self, timeout: float | None = None) -> bytes:
        self.check_connection_opened()
        deadline: float | None = None
        while True:
            if self.unpowered.is_set():
                raise TimeoutException("no answer: the bench has switched the ECU off")
            stack_thread = getattr(self.isotp_layer, "main_thread", None)
            if stack_thread is not None and not stack_thread.is_alive():  # its bus failed under it
                raise BenchFault("the tester's ISO-TP stack has stopped (its CAN interface failed or went "
                                 "away): no answer can come")
            if deadline is None and timeout is not None and not self.isotp_layer.sending():
                deadline = time.monotonic() + timeout
            remaining = self.SLICE if deadline is None else min(self.SLICE, deadline - time.monotonic())
            if remaining <= 0:
                assert timeout is not None
                arrived = getattr(self.isotp_layer, "last_message_at", 0.0)  # bench.transport.isotp_link
                if self._sent_at <= arrived <= deadline:
                    self.missed_answers.append(
                        f"the tester's stack received the start of an answer {(arrived - self._sent_at) * 1000:.0f} ms "
                        f"after the request was handed to it, but the tester's threads did not get the CPU to take "
                        f"it within {timeout * 1000:.0f} ms")
                raise TimeoutException(f"Did not receive IsoTP frame in time (timeout={timeout} sec)")
            frame = self.isotp_layer.recv(block=True, timeout=remaining)
            if frame is None:
                continue
            if self._request is not None and not answers(bytes(frame), self._request):
                # ISO 14229-2: the client takes only a response to its own request
                logger.info("ignored %s while awaiting the answer to %s", bytes(frame).hex(" "),
                            self._request[:4].hex(" "))
                continue
            return bytes(frame)


def functional_answer(client: SessionTimedClient, payload: bytes, answer_within: float) -> tuple[bytes | None, bool]:
    """The ECU's answer to functional request ``payload`` just sent, read through ``client``'s connection:
    None if none came within ``answer_within`` seconds; a 0x78 is not an answer, the wait goes on for
    P2* + ΔP2; an answer to another service (an earlier request's, late) is skipped. And whether a
    0x78 came."""
    pending_seen = False
    deadline = time.monotonic() + answer_within
    while (wait := deadline - time.monotonic()) > 0:
        try:
            answer = client.conn.wait_frame(timeout=wait, exception=True)
        except TimeoutException:
            return None, pending_seen
        if answer is None:
            return None, pending_seen
        if not answers(answer, payload):
            # a late answer to an earlier request (e.g. its 0x78, sent after the tester moved on):
            # ISO 14229-2 has the client take only a response to its own request
            logger.info("ignored %s while awaiting the answer to functional %s", answer.hex(" "), payload.hex(" "))
            continue
        if answer[:1] == b"\x7f" and answer[2:3] == RESPONSE_PENDING:
            deadline = time.monotonic() + client.server_p2_star + client.floor.network_margin
            pending_seen = True
            continue
        return answer, pending_seen
    return None, pending_seen


class PowerAware(Protocol):
    unpowered: threading.Event
    """Set by the bench while the ECU has no power: a wait for its answer ends at once."""


class PoweredLink(ABC):
    """What every tester link (CAN or DoIP) does alike: hears from the bench whether the ECU has
    power, and opens as a context."""

    connection: PowerAware

    @abstractmethod
    def open(self) -> Self: ...

    @abstractmethod
    def close(self) -> None: ...

    def ecu_powered(self, powered: bool) -> None:
        """The bench says whether the ECU has power (see ``BenchAwareConnection``)."""
        if powered:
            self.connection.unpowered.clear()
        else:
            self.connection.unpowered.set()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


class TesterLink(PoweredLink):
    """Physical requests through a udsoncan client; functional TesterPresent beside it."""

    def __init__(self, ecu: EcuConfig, profile: EcuProfile, bus_config: BusConfig, bus: can.BusABC,
                 notifier: can.Notifier) -> None:
        frame = max(profile.max_block_length, 4095)
        timing = profile.timing
        self._physical = make_stack(bus, notifier, address(ecu, server=False), bus_config, max_frame_size=frame,
                                    timing=timing)
        self._functional = make_stack(bus, notifier, address(ecu, server=False, functional=True), bus_config,
                                      max_frame_size=frame, timing=timing)
        self.connection = BenchAwareConnection(self._physical)
        self.client = SessionTimedClient(self.connection, profile)
        self.response_pending_seen = False
        """The ECU answered the last functional request with 0x78 first (``functional_request``)."""
        self._functional_sender = FunctionalSender(self._functional)

    def open(self) -> TesterLink:
        self.client.open()
        self._functional.start()
        return self

    def close(self) -> None:
        self._functional.stop()
        self.client.close()

    def discard_pending(self) -> None:
        """Drop what an unanswered exchange left behind: a request still waiting for flow
        control, and any late response, so the next request starts clean."""
        self.client.conn.empty_txqueue()
        self.client.conn.empty_rxqueue()

    def functional_request(self, payload: bytes, *, answer_within: float) -> bytes | None:
        """Send ``payload`` to the functional address (a single frame to every ECU); this ECU's answer,
        which comes on its physical response id, or None if none came within ``answer_within`` seconds
        from the end of the transmission. A 0x78 is not an answer: the wait goes on for P2* + ΔP2.

        With the suppress bit set only a negative answer can come, and ISO 14229-2 has the tester
        wait P3client_func (at least P2server_max) before its next functional request: pass that
        (0: return once the frame is sent, listening for nothing); unless the ECU answered 0x78
        first, after which its final response is due, positive or not (ISO 14229-1, 7.5):
        ``response_pending_seen`` says whether it did.
        """
        self.response_pending_seen = False
        if answer_within > 0:  # an earlier exchange's late answer must not be taken for this one's
            self._physical.clear_rx_queue()
        if not self._send_functional(payload):
            raise TimeoutException(f"functional request {payload.hex(' ')} not sent within N_As ({N_AS} s)")
        self.connection.request_sent(payload)
        answer, self.response_pending_seen = functional_answer(self.client, payload, answer_within)
        return answer

    def tester_present_functional(self) -> None:
        """3E 80 to the functional address: keeps every ECU's session alive, no response."""
        self._send_functional(TESTER_PRESENT_SUPPRESSED)

    def _send_functional(self, payload: bytes) -> bool:
        """A single frame to the functional address, on the bus when this returns True (False: not
        within N_As, and then never: ``FunctionalSender``). So a physical request sent next cannot
        overtake it on a loaded host."""
        return self._functional_sender.send(payload, N_AS)
