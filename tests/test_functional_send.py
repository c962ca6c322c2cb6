"""A functional message whose send was given up at N_As is lost: its frame, sent late by the stack's
thread, never reaches the bus, and never passes for the next message's (``FunctionalSender``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import isotp
import pytest

from bench.config import load_bench
from bench.transport import uds_client
from bench.transport.functional_send import FunctionalSender

REPO = Path(__file__).resolve().parents[1]
GIVE_UP = 0.01
"""Seconds a send waits here when no frame of the fake stack can come meanwhile (a bound, never timing)."""
HOLD = 60.0
"""Seconds a held frame waits at most for the test to release it (a bound, never reached)."""


class LateStack:
    """A functional stack whose thread sends queued messages only when the test says (``run``),
    or as the next message is queued (``on_send``)."""

    address = isotp.Address(txid=0x7DF, rxid=0x7E8)

    def __init__(self) -> None:
        self.queued: list[bytes] = []
        self.bus: list[bytes] = []
        self.txfn: Callable[[bytes], None] = self.bus.append
        self.on_send: Callable[[], None] | None = None

    def send(self, payload: bytes) -> None:
        self.queued.append(payload)
        if self.on_send is not None:
            self.on_send()

    def run(self, count: int | None = None) -> None:
        """The stack's thread sends the ``count`` oldest queued messages (all: None), one frame each."""
        for _ in range(len(self.queued) if count is None else count):
            self.txfn(Frame(self.queued.pop(0)))


class Frame(bytes):
    """A frame as the sender reads it: ``.data``, here a single frame of the payload."""

    @property
    def data(self) -> bytes:
        return bytes([len(self)]) + self


def test_a_send_is_done_when_its_frame_is_on_the_bus() -> None:
    stack = LateStack()
    sender = FunctionalSender(stack)  # type: ignore[arg-type] - what the sender uses of a stack
    stack.on_send = stack.run
    assert sender.send(b"\x3e\x80", HOLD)
    assert stack.bus == [b"\x3e\x80"]


def test_a_stale_frame_sent_while_the_next_message_waits_neither_completes_it_nor_reaches_the_bus() -> None:
    stack = LateStack()
    sender = FunctionalSender(stack)  # type: ignore[arg-type]
    assert not sender.send(b"\x10\x03", GIVE_UP)  # the stack's thread did not come to it within N_As
    stack.on_send = lambda: stack.run(1)  # it comes to 10 03 as soon as 3E 80 is queued behind it
    assert not sender.send(b"\x3e\x80", GIVE_UP), "10 03's frame was taken for 3E 80's"
    stack.on_send = None
    stack.run()  # 3E 80, late as well
    assert stack.bus == [], "frames the tester was told were not sent went on the bus"
    stack.on_send = stack.run
    assert sender.send(b"\x3e\x80", HOLD) and stack.bus == [b"\x3e\x80"]


def test_a_flow_control_the_stack_sends_takes_no_turn() -> None:
    """A stray first frame on the functional id makes can-isotp answer with a flow control: it goes
    out, and neither completes a message waiting for its frame nor breaks the next one."""
    stack = LateStack()
    sender = FunctionalSender(stack)  # type: ignore[arg-type]
    flow_control = isotp.CanMessage(arbitration_id=0x7DF, data=b"\x30\x00\x00")

    def flow_control_first() -> None:
        stack.txfn(flow_control)
        stack.run()

    stack.on_send = flow_control_first
    assert sender.send(b"\x3e\x80", HOLD)
    assert stack.bus == [flow_control, b"\x3e\x80"]


def test_a_message_the_stack_refuses_leaves_no_turn_behind() -> None:
    stack = LateStack()
    sender = FunctionalSender(stack)  # type: ignore[arg-type]

    def refuse(payload: bytes) -> None:
        raise ValueError("Cannot send multi packet frame with Functional TargetAddressType")

    stack.send = refuse  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="multi packet"):
        sender.send(bytes(8), HOLD)
    del stack.send
    stack.on_send = stack.run
    assert sender.send(b"\x3e\x80", HOLD) and stack.bus == [b"\x3e\x80"]


def test_a_functional_send_given_up_is_never_taken_for_the_next_one(monkeypatch, tmp_path) -> None:
    """The tester's functional stack thread is stuck with ``10 83`` past N_As (shortened here) and
    gets on with it once ``3E 80`` is queued, which it then holds: the tester must not take ``10 83``
    on the bus for ``3E 80`` there (it would send its next physical request before it)."""
    from bench.rig import Bench

    monkeypatch.setattr(uds_client, "N_AS", 0.2)
    tester_present_queued, release = threading.Event(), threading.Event()
    with Bench(load_bench(REPO / "fixtures" / "benches" / "virtual.yaml"), workdir=tmp_path, ecus=["bcm"],
               gateway=False) as rig:
        link = rig.ecu("bcm").link
        stack = link._functional
        transmit, queue = stack.txfn, stack.send

        def held(frame) -> None:  # noqa: ANN001 - can-isotp's CanMessage, in its thread
            assert (tester_present_queued if frame.data[1] == 0x10 else release).wait(HOLD)
            transmit(frame)

        def send(payload: bytes, *args: object, **kwargs: object) -> None:
            queue(payload, *args, **kwargs)
            if payload == uds_client.TESTER_PRESENT_SUPPRESSED:
                tester_present_queued.set()

        stack.txfn, stack.send = held, send
        try:
            with pytest.raises(uds_client.TimeoutException, match="not sent within N_As"):
                link.functional_request(bytes([0x10, 0x83]), answer_within=0.0)
            assert not link._send_functional(uds_client.TESTER_PRESENT_SUPPRESSED)
        finally:
            tester_present_queued.set()
            release.set()
