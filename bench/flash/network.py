"""Pre- and post-programming on the network, the way OEM programming sequences do it.

Before the ECU is reprogrammed, every ECU on its bus goes to the extended session, stops
recording DTCs (ControlDTCSetting off) and stops its normal communication
(CommunicationControl disableRxAndTx): functional requests with the suppressPosRspMsgIndicationBit,
so no ECU answers unless it refuses. Afterwards the network is given back: communication and DTC
setting on again (the ECU that was just reset has them on already), and, where the profile says
so, every ECU's DTCs cleared (ClearDiagnosticInformation has no sub-function: every ECU answers).

A suppressed request may still draw a negative response. Between two functional requests ISO
14229-2 has the tester wait P3client_func (at least P2server_max); this ECU's answer, if it
sends one in that time, is judged: an ECU that refuses to be prepared for programming fails
the step. The physical request that follows a batch is not held back (P3client_func is
defined between functional requests): a late refusal of the batch's last request then arrives
as the answer to that physical request, which udsoncan rejects as unexpected, failing that
step instead. Only this ECU's answers are seen (the others answer on their own response ids).
"""

from __future__ import annotations

from udsoncan import Request, Response, services

from bench.errors import FlashError
from bench.flash.timeline import Timeline
from bench.transport.uds_client import TesterLink

NORMAL_COMMUNICATION = 0x01
"""communicationType: normal communication messages (ISO 14229-1 Annex B.1), all subnets."""


def _suppressed(request: Request) -> bytes:
    return request.get_payload(suppress_positive_response=True)


def prepare_network(name: str, link: TesterLink, timeline: Timeline) -> None:
    """10 83, 85 82, 28 83 01 to the functional address."""
    sessions, dtc, comm = services.DiagnosticSessionControl, services.ControlDTCSetting, services.CommunicationControl
    _send_suppressed(name, link, timeline, "DiagnosticSessionControl extended (functional)",
                     _suppressed(sessions.make_request(sessions.Session.extendedDiagnosticSession)))
    _send_suppressed(name, link, timeline, "ControlDTCSetting off (functional)",
                     _suppressed(dtc.make_request(dtc.SettingType.off)))
    _send_suppressed(name, link, timeline, "CommunicationControl disableRxAndTx (functional)",
                     _suppressed(comm.make_request(comm.ControlType.disableRxAndTx, NORMAL_COMMUNICATION)),
                     last=True)


def restore_network(name: str, link: TesterLink, timeline: Timeline, *, clear_dtcs: bool) -> None:
    """28 80 01, 85 81 to the functional address; then 14 FF FF FF when ``clear_dtcs``."""
    dtc, comm = services.ControlDTCSetting, services.CommunicationControl
    _send_suppressed(name, link, timeline, "CommunicationControl enableRxAndTx (functional)",
                     _suppressed(comm.make_request(comm.ControlType.enableRxAndTx, NORMAL_COMMUNICATION)))
    _send_suppressed(name, link, timeline, "ControlDTCSetting on (functional)",
                     _suppressed(dtc.make_request(dtc.SettingType.on)), last=not clear_dtcs)
    if not clear_dtcs:
        return
    clear = services.ClearDiagnosticInformation.make_request(group=0xFFFFFF).get_payload()
    send_functional(name, link, timeline, "ClearDiagnosticInformation all groups (functional)", clear,
                    suppressed=False)


def _send_suppressed(name: str, link: TesterLink, timeline: Timeline, step_name: str, payload: bytes, *,
                     last: bool = False) -> None:
    send_functional(name, link, timeline, step_name, payload, suppressed=True, last=last)


def send_functional(name: str, link: TesterLink, timeline: Timeline, step_name: str, payload: bytes, *,
                    suppressed: bool, last: bool = False, wait: float | None = None) -> None:
    """One functional request as the step ``step_name``. ``suppressed`` (the payload has the
    suppressPosRspMsgIndicationBit): only a refusal is expected, within P3client_func (``wait``,
    default P2server_max), which ``last`` skips (no functional request follows). Otherwise this
    ECU's positive answer is awaited for P2 plus ΔP2; silence means it lacks the service."""
    client = link.client
    if suppressed:
        with timeline.step(step_name, detail=payload.hex(" ").upper()):
            within = 0.0 if last else client.server_p2 if wait is None else wait
            answer = link.functional_request(payload, answer_within=within)
            if answer is not None:  # after a 0x78 the final answer is due, suppressed or not (ISO 14229-1, 7.5)
                _judge(name, step_name, payload, answer, positive_expected=link.response_pending_seen)
        return
    with timeline.step(step_name) as step:
        answer = link.functional_request(payload, answer_within=client.server_p2 + client.floor.network_margin)
        if answer is None:
            step.detail = "no answer from this ECU (silent to a functional request: it lacks the service)"
        else:
            _judge(name, step.name, payload, answer, positive_expected=True)
            step.detail = f"answered {answer.hex(' ').upper()}"


def _judge(name: str, step_name: str, request: bytes, answer: bytes, *, positive_expected: bool) -> None:
    """A negative answer fails the step; so does a positive one to a suppressed request (the ECU
    must not send it). (An answer to another service is not this request's: the link skips it.)"""
    response = Response.from_payload(answer)
    if not response.valid or not response.positive:
        code = f"NRC {response.code:#04x} ({response.code_name})" if response.valid else answer.hex(" ")
        raise FlashError(f"{name}: {step_name} refused: {code}")
    if not positive_expected:
        raise FlashError(f"{name}: {step_name}: positive response {answer.hex(' ').upper()} to a request "
                         "with the suppressPosRspMsgIndicationBit set")
