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

    def arrived_since(self, address: int, request: bytes | None, since: float) -> float | None:
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


def test_a_late_answer_of_the_same_service_is_told_apart_by_what_it_repeats() -> None:
    """``50 03`` (an earlier ``10 83``'s final answer, after a 0x78) while ``10 02`` waits; a late
    ``76 05`` while block 6 waits: the positive response repeats the sub-function or counter."""
    connector = BenchAwareDoipConnector(Session("50 03 00 32 01 F4", "50 02 00 32 01 F4"), ECU)  # type: ignore[arg-type]
    connector.specific_send(bytes([0x10, 0x02]))
    assert connector.specific_wait_frame(1.0) == bytes.fromhex("50 02 00 32 01 F4")
    connector = BenchAwareDoipConnector(Session("76 05", "76 06"), ECU)  # type: ignore[arg-type]
    connector.specific_send(bytes([0x36, 0x06, 0xAA]))
    assert connector.specific_wait_frame(1.0) == bytes([0x76, 0x06])


@pytest.mark.parametrize("response, sent, taken", [
    ("50 03 00 32 01 F4", "10 83", True),       # the suppress bit is not repeated
    ("50 03 00 32 01 F4", "10 02", False),
    ("71 01 FF 00 00", "31 01 FF 00 01", True),
    ("71 01 02 02 00", "31 01 FF 00 01", False),  # another routine's result
    ("62 F1 89 31", "22 F1 89", True),
    ("62 F1 95 31", "22 F1 89", False),
    ("6E F1 5A", "2E F1 5A 01 02", True),
    ("67 02", "27 02 AA BB", True),
    ("67 01 12 34", "27 02 AA BB", False),     # the seed, late, while the key's answer is awaited
    ("74 20 0F FF", "34 00 44 00 00 00 00 00 01 00 00", True),  # nothing repeated
    ("7F 10 22", "10 02", True),                # a refusal repeats only the SID
    ("7F 22 31", "10 02", False),
])
def test_answers_compares_what_iso_14229_has_the_response_repeat(response: str, sent: str, taken: bool) -> None:
    from bench.transport.uds_client import answers

    assert answers(bytes.fromhex(response), bytes.fromhex(sent)) is taken
