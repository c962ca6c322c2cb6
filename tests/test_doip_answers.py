"""The DoIP tester takes only the answer to its own request (ISO 14229-2), as the CAN tester does: a
late answer to an earlier request, which a stalled TCP connection delivered after the tester moved
on (a TransferData's 0x76 arriving while RequestTransferExit awaits its 0x77), is skipped."""

from __future__ import annotations

from collections import deque

import pytest
from udsoncan.exceptions import TimeoutException

from bench.transport.doip_link import BenchAwareDoipConnector

ECU = 0x1011


class Session:
    """A DoIP session's side the connector uses: what it sends, and the ECU's messages in order."""

    client = None

    def __init__(self, *answers: str) -> None:
        self.answers = deque(bytes.fromhex(answer) for answer in answers)
        self.sent: list[bytes] = []

    def send(self, address: int, payload: bytes, *, acknowledged: bool) -> None:
        self.sent.append(payload)

    def receive(self, address: int, timeout: float) -> bytes | None:
        return self.answers.popleft() if self.answers else None

    def drop(self, address: int) -> None:
        self.answers.clear()

    def arrived_since(self, address: int, service: int | None, since: float) -> float | None:
        return None  # a wait that timed out: nothing was left in the socket


def test_a_late_answer_to_an_earlier_request_is_skipped() -> None:
    connector = BenchAwareDoipConnector(Session("76 05", "77"), ECU)  # type: ignore[arg-type]
    connector.specific_send(bytes([0x37]))
    assert connector.specific_wait_frame(1.0) == bytes([0x77])


def test_a_negative_answer_to_the_request_is_its_answer_and_to_another_is_not() -> None:
    connector = BenchAwareDoipConnector(Session("7F 36 73", "7F 37 24"), ECU)  # type: ignore[arg-type]
    connector.specific_send(bytes([0x37]))
    assert connector.specific_wait_frame(1.0) == bytes.fromhex("7F 37 24")


def test_only_answers_to_another_request_are_no_answer() -> None:
    connector = BenchAwareDoipConnector(Session("76 05"), ECU)  # type: ignore[arg-type]
    connector.specific_send(bytes([0x37]))
    with pytest.raises(TimeoutException):
        connector.specific_wait_frame(0.1)
