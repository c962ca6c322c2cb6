"""Frames sent together: a block of consecutive frames goes onto the bench's virtual bus in one
call (``BenchVirtualBus.send_isotp_frames``) and into a routed stack in one call
(``AddressedStack.take_frames``), where the main thread takes them one by one, the expected
consecutive frames in a row (``AddressedStack._process_rx``). The bus, its taps and every receiver
see the same frames in the same order as frame by frame; a stack given a broken run of frames
reports what can-isotp reports when they come one by one."""

from __future__ import annotations

import time
import uuid

import can
import isotp
import pytest

from bench.transport import virtual_bus
from bench.transport.can_bus import open_notifier
from bench.transport.isotp_link import AddressedStack
from bench.transport.isotp_steady import SteadyFrames
from bench.transport.virtual_bus import BenchVirtualBus

PARAMS = {"stmin": 0, "blocksize": 0, "tx_padding": 0xAA, "max_frame_size": 0x10000}
PATIENCE = 10.0
"""Seconds to wait for what must happen (a loaded host is slow); never a measured time."""


def until(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def close(stacks: list[AddressedStack], notifiers: list[can.Notifier], buses: list[can.BusABC]) -> None:
    for stack in stacks:
        stack.stop()
    for notifier in notifiers:
        notifier.stop()
    for bus in buses:
        bus.shutdown()


def frames_on_the_bus(together: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[bytes], list[bytes], bytes]:
    """A 4 KiB message from one stack to another: the tap's frames, a python-can peer's, what arrived."""
    if not together:  # each frame on its own, through txfn
        monkeypatch.setattr(AddressedStack, "_send_block", SteadyFrames._send_block)
    channel = f"together-{uuid.uuid4().hex[:8]}"
    buses = [BenchVirtualBus(channel), BenchVirtualBus(channel)]
    peer = can.Bus(interface="virtual", channel=channel)
    notifiers = [open_notifier(bus) for bus in buses]
    sender = AddressedStack(buses[0], notifiers[0], address=isotp.Address(txid=0x7E0, rxid=0x7E8), params=PARAMS)
    receiver = AddressedStack(buses[1], notifiers[1], address=isotp.Address(txid=0x7E8, rxid=0x7E0), params=PARAMS)
    tap = virtual_bus.tap(channel)
    message = bytes(range(256)) * 16
    try:
        sender.start()
        receiver.start()
        sender.send(message)
        received = receiver.recv(block=True, timeout=PATIENCE)
        until(lambda: len(tap) >= 2 + len(message) // 7, "all frames on the bus")
        heard = []
        while (msg := peer.recv(0)) is not None:
            heard.append(bytes(msg.data))
    finally:
        close([sender, receiver], notifiers, buses)
        peer.shutdown()
        virtual_bus.untap(channel, tap)
    return [bytes(msg.data) for msg in tap], heard, bytes(received or b"")


def test_a_block_sent_together_is_the_same_on_the_bus_as_frame_by_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    together, peer_together, received_together = frames_on_the_bus(True, monkeypatch)
    monkeypatch.undo()
    one_by_one, peer_one_by_one, received_one_by_one = frames_on_the_bus(False, monkeypatch)
    message = bytes(range(256)) * 16
    assert received_together == received_one_by_one == message
    assert together == one_by_one  # the receiver's flow control included: the same frames in the same order
    assert peer_together == together and peer_one_by_one == one_by_one


@pytest.fixture
def blocks_taken(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every block a stack takes in one call (``take_frames``), in order."""
    calls: list[int] = []
    take = AddressedStack.take_frames

    def counted(self: AddressedStack, msgs: list[can.Message]) -> None:
        calls.append(len(msgs))
        take(self, msgs)

    monkeypatch.setattr(AddressedStack, "take_frames", counted)
    return calls


def test_a_routed_stack_gets_a_block_in_one_call(blocks_taken: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = blocks_taken
    _, _, received = frames_on_the_bus(True, monkeypatch)
    assert received == bytes(range(256)) * 16
    assert calls and max(calls) > 500  # the 585 consecutive frames after the first frame, less the last


class Library:
    """can-isotp alone, given the same frames one by one: the reference."""

    def __init__(self) -> None:
        self.inbox: list[isotp.CanMessage] = []
        self.errors: list[str] = []
        self.stack = isotp.TransportLayerLogic(rxfn=lambda timeout: self.inbox.pop(0) if self.inbox else None,
                                               txfn=lambda frame: None, address=isotp.Address(txid=0x7E8, rxid=0x7E0),
                                               params=PARAMS, error_handler=lambda e: self.errors.append(type(e).__name__))

    def take(self, frames: list[bytes]) -> None:
        self.inbox.extend(isotp.CanMessage(arbitration_id=0x7E0, data=frame, dlc=len(frame)) for frame in frames)
        self.stack.process()


def cf(seqnum: int, fill: int) -> bytes:
    return bytes([0x20 | seqnum & 0xF]) + bytes([fill]) * 7


@pytest.mark.parametrize("broken", ["wrong_sequence", "first_frame", "single_frame"])
def test_a_broken_run_of_frames_taken_together_is_reported_as_can_isotp_reports_it(broken: str) -> None:
    first = bytes([0x10, 0x30]) + bytes(6)  # 48 bytes: a first frame and 6 consecutive frames
    run = [cf(1, 1), cf(2, 2), {"wrong_sequence": cf(4, 4), "first_frame": first,
                                "single_frame": bytes([0x02, 0x3E, 0x00])}[broken], cf(3, 3), cf(4, 4), cf(5, 5), cf(6, 6)]
    library = Library()
    library.take([first])
    library.take(run)
    expected_messages = []
    while (message := library.stack.recv()) is not None:
        expected_messages.append(bytes(message))
    channel = f"broken-{uuid.uuid4().hex[:8]}"
    bus = BenchVirtualBus(channel)
    notifier = open_notifier(bus)
    errors: list[str] = []
    stack = AddressedStack(bus, notifier, address=isotp.Address(txid=0x7E8, rxid=0x7E0), params=PARAMS,
                           error_handler=lambda e: errors.append(type(e).__name__))
    try:
        stack.start()
        as_frames = [can.Message(arbitration_id=0x7E0, data=frame, is_extended_id=False) for frame in [first]]
        stack.take_frames(as_frames)
        stack.take_frames([can.Message(arbitration_id=0x7E0, data=frame, is_extended_id=False) for frame in run])
        messages: list[bytes] = []

        def taken() -> bool:
            while (message := stack.recv()) is not None:
                messages.append(bytes(message))
            return len(errors) >= len(library.errors) and len(messages) >= len(expected_messages)

        until(taken, f"the errors {library.errors} and messages can-isotp has for these frames")
    finally:
        stack.stop()
        notifier.stop()
        bus.shutdown()
    assert library.errors, "the run was not broken"
    assert errors == library.errors
    assert messages == expected_messages


@pytest.mark.parametrize("armed", [False, True, "apart"])
def test_a_block_crosses_the_gateway_together_unless_a_fault_is_armed(armed: bool | str,
                                                                      blocks_taken: list[int]) -> None:
    from bench.gateway import Gateway

    calls = blocks_taken
    tester_side, ecu_side = (f"gw-{side}-{uuid.uuid4().hex[:8]}" for side in ("tester", "ecu"))
    buses = [BenchVirtualBus(tester_side), BenchVirtualBus(tester_side), BenchVirtualBus(ecu_side),
             BenchVirtualBus(ecu_side)]
    notifiers = [open_notifier(buses[0]), open_notifier(buses[3])]
    sender = AddressedStack(buses[0], notifiers[0], address=isotp.Address(txid=0x7E0, rxid=0x7E8), params=PARAMS)
    receiver = AddressedStack(buses[3], notifiers[1], address=isotp.Address(txid=0x7E8, rxid=0x7E0), params=PARAMS)
    gateway = Gateway(buses[1], buses[2], name="together")
    message = bytes(range(256)) * 16
    try:
        gateway.start()
        handle = gateway.drop(1, direction="to_ecu", match=lambda msg: msg.data[0] == 0x2F) if armed is True else None
        release = gateway.frames_apart() if armed == "apart" else None  # a fault waits for a clock
        sender.start()
        receiver.start()
        sender.send(message)
        deadline = time.monotonic() + PATIENCE  # a dropped frame: N_Cr (1 s) ends the reception, nothing comes
        received = None
        while received is None and time.monotonic() < deadline:
            received = receiver.recv(block=True, timeout=0.05)
            if handle is not None and handle.affected and receiver.rx_state == receiver.RxState.IDLE:
                break  # the frame was dropped and the reception given up
        if release is not None:
            release()
    finally:
        gateway.stop()
        for stack in (sender, receiver):
            stack.stop()
        for notifier in notifiers:
            notifier.stop()
        for bus in buses:
            bus.shutdown()
    if armed is True:
        assert received is None and handle is not None and handle.affected == 1  # one frame struck, the rest passed
        assert max(calls, default=0) <= 1  # every frame through the fault pipeline, one by one
    elif armed == "apart":
        assert received == message and max(calls, default=0) <= 1
    else:
        assert received == message and max(calls) > 500


def test_a_stack_on_another_bus_sends_its_blocks_frame_by_frame() -> None:
    """On any bus but the bench's (an adapter, python-can's virtual bus) a block goes through the
    stack's frame sender one frame at a time."""
    channel = f"plain-{uuid.uuid4().hex[:8]}"
    buses = [can.Bus(interface="virtual", channel=channel) for _ in range(2)]
    notifiers = [can.Notifier(bus, []) for bus in buses]
    sender = AddressedStack(buses[0], notifiers[0], address=isotp.Address(txid=0x7E0, rxid=0x7E8), params=PARAMS)
    receiver = AddressedStack(buses[1], notifiers[1], address=isotp.Address(txid=0x7E8, rxid=0x7E0), params=PARAMS)
    message = bytes(range(256)) * 4
    try:
        sender.start()
        receiver.start()
        sender.send(message)
        assert receiver.recv(block=True, timeout=PATIENCE) == message
    finally:
        close([sender, receiver], notifiers, buses)
