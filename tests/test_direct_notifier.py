"""The virtual bus hands frames to a DirectNotifier's listeners in the sending thread, and
can-isotp stacks on it carry messages with no reader or relay thread in between."""

from __future__ import annotations

import threading
import uuid

import can
import isotp
import pytest

from bench.errors import BenchFault
from bench.transport.can_bus import open_notifier
from bench.transport.direct_notifier import DirectNotifier
from bench.transport.virtual_bus import BenchVirtualBus


@pytest.fixture
def channel() -> str:
    return f"direct-{uuid.uuid4().hex[:8]}"


def test_listeners_run_in_the_sending_thread_before_send_returns(channel: str) -> None:
    sender, receiver = BenchVirtualBus(channel), BenchVirtualBus(channel)
    notifier = open_notifier(receiver)
    heard: list[tuple[int, threading.Thread]] = []
    notifier.add_listener(lambda msg: heard.append((msg.arbitration_id, threading.current_thread())))
    try:
        assert isinstance(notifier, DirectNotifier)
        sender.send(can.Message(arbitration_id=0x7E0, data=b"\x01", is_extended_id=False))
        assert heard == [(0x7E0, threading.current_thread())]
        assert receiver.recv(0) is None  # nothing was queued as well
    finally:
        notifier.stop()
        sender.shutdown()
        receiver.shutdown()


def test_receiver_filters_apply_and_stop_queues_frames_again(channel: str) -> None:
    sender = BenchVirtualBus(channel)
    receiver = BenchVirtualBus(channel, can_filters=[{"can_id": 0x7E8, "can_mask": 0x7FF}])
    heard: list[int] = []
    notifier = DirectNotifier(receiver, [lambda msg: heard.append(msg.arbitration_id)])
    try:
        for can_id in (0x7E0, 0x7E8):
            sender.send(can.Message(arbitration_id=can_id, data=b"\x02", is_extended_id=False))
        assert heard == [0x7E8]
        notifier.stop()
        sender.send(can.Message(arbitration_id=0x7E8, data=b"\x03", is_extended_id=False))
        assert heard == [0x7E8]
        queued = receiver.recv(0.5)
        assert queued is not None and bytes(queued.data) == b"\x03"
    finally:
        sender.shutdown()
        receiver.shutdown()


def test_a_failing_listener_neither_fails_the_sender_nor_starves_the_others(channel: str) -> None:
    sender, receiver = BenchVirtualBus(channel), BenchVirtualBus(channel)
    heard: list[int] = []

    def broken(msg: can.Message) -> None:
        raise RuntimeError("listener bug")

    notifier = DirectNotifier(receiver, [broken, lambda msg: heard.append(msg.arbitration_id)])
    try:
        sender.send(can.Message(arbitration_id=0x123, data=b"", is_extended_id=False))
        assert heard == [0x123]
    finally:
        notifier.stop()
        sender.shutdown()
        receiver.shutdown()


def test_isotp_stacks_on_direct_notifiers_exchange_long_messages(channel: str) -> None:
    from bench.transport.isotp_link import AddressedStack

    buses = [BenchVirtualBus(channel), BenchVirtualBus(channel)]
    notifiers = [open_notifier(bus) for bus in buses]
    params = {"stmin": 0, "blocksize": 0, "max_frame_size": 8192}
    tester = AddressedStack(buses[0], notifiers[0], address=isotp.Address(txid=0x7E0, rxid=0x7E8), params=params)
    ecu = AddressedStack(buses[1], notifiers[1], address=isotp.Address(txid=0x7E8, rxid=0x7E0), params=params)
    tester.start()
    ecu.start()
    try:
        request = bytes(range(256)) * 16
        tester.send(request)
        assert ecu.recv(block=True, timeout=5.0) == request
        ecu.send(b"\x76\x01")
        assert tester.recv(block=True, timeout=5.0) == b"\x76\x01"
        assert tester.buffered_reader is not None and tester.buffered_reader.get_message(0) is None
    finally:
        tester.stop()
        ecu.stop()
        for notifier, bus in zip(notifiers, buses):
            notifier.stop()
            bus.shutdown()


def test_the_gateway_forwards_in_the_senders_thread_until_a_fault_that_holds_frames_is_armed(channel: str) -> None:
    from bench.gateway import Gateway

    tester, tester_side = BenchVirtualBus(channel), BenchVirtualBus(channel)
    ecu_side, ecu = BenchVirtualBus(f"{channel}/ecu"), BenchVirtualBus(f"{channel}/ecu")
    heard: list[bytes] = []
    notifier = DirectNotifier(ecu, [lambda msg: heard.append(bytes(msg.data))])
    gateway = Gateway(tester_side, ecu_side, name="direct")
    gateway.start()

    def send(data: bytes) -> None:
        tester.send(can.Message(arbitration_id=0x7E0, data=data, is_extended_id=False))

    try:
        send(b"\x01")
        assert heard == [b"\x01"]  # across before send returned: no thread in between
        gateway.drop(1, direction="to_ecu")
        gateway.corrupt(None, byte_index=0, xor=0x10, direction="to_ecu")
        for data in (b"\x02", b"\x03"):
            send(data)
        assert heard == [b"\x01", b"\x13"]  # the drop saw the next frame, the corruption the one after: at once
        gateway.clear()
        gateway.delay(0.5, direction="to_ecu")  # long enough that a starved test thread still looks first
        send(b"\x04")
        assert heard == [b"\x01", b"\x13"]  # a delay holds the frame: the forwarding thread sends it later
        deadline = threading.Event()
        for _ in range(500):
            if gateway.counters()["to_ecu"]["forwarded"] >= 3:
                break
            deadline.wait(0.01)
        assert heard == [b"\x01", b"\x13", b"\x04"]
    finally:
        gateway.stop()
        notifier.stop()
        for bus in (tester, tester_side, ecu_side, ecu):
            bus.shutdown()


def test_a_fault_that_raises_in_the_senders_thread_is_the_gateways_fault_not_the_senders(channel: str) -> None:
    """A fault's match function that raises, run on the sender's thread (a fault that does not hold
    frames): the sender (an ECU's or the tester's stack) goes on, and the gateway reports a bench fault."""
    from bench.gateway import Gateway

    tester, tester_side = BenchVirtualBus(channel), BenchVirtualBus(channel)
    ecu_side, ecu = BenchVirtualBus(f"{channel}/ecu"), BenchVirtualBus(f"{channel}/ecu")
    gateway = Gateway(tester_side, ecu_side, name="direct")
    gateway.start()

    def broken(msg: can.Message) -> bool:
        raise ValueError("a match function with a bug")

    try:
        gateway.drop(None, direction="to_ecu", match=broken)
        tester.send(can.Message(arbitration_id=0x7E0, data=b"\x01", is_extended_id=False))  # does not raise
        assert isinstance(gateway.fault, BenchFault) and "a match function with a bug" in str(gateway.fault)
    finally:
        gateway.stop()
        for bus in (tester, tester_side, ecu_side, ecu):
            bus.shutdown()


class KeyedListener:
    """A listener whose owner says which frames it takes, as the bench's ISO-TP stacks do."""

    def __init__(self, key: tuple[int, bool] | None) -> None:
        self.key, self.heard = key, []

    def frame_key(self) -> tuple[int, bool] | None:
        return self.key

    def take(self, msg: can.Message) -> None:
        self.heard.append(msg.arbitration_id)


def test_a_listener_with_a_frame_key_gets_only_the_frames_of_its_key(channel: str) -> None:
    sender, receiver = BenchVirtualBus(channel), BenchVirtualBus(channel)
    notifier = open_notifier(receiver)
    physical, functional, extended = KeyedListener((0x7E0, False)), KeyedListener((0x7DF, False)), \
        KeyedListener((0x7E0, True))
    everything, order = KeyedListener(None), []
    try:
        for listener in (physical, functional, extended, everything):
            notifier.add_listener(listener.take)
        notifier.add_listener(lambda msg: order.append("last"))
        for arbitration_id, is_extended in ((0x7E0, False), (0x7DF, False), (0x7E0, True), (0x123, False)):
            sender.send(can.Message(arbitration_id=arbitration_id, data=b"\x01", is_extended_id=is_extended))
        assert (physical.heard, functional.heard, extended.heard) == ([0x7E0], [0x7DF], [0x7E0])
        assert everything.heard == [0x7E0, 0x7DF, 0x7E0, 0x123] and len(order) == 4
        notifier.remove_listener(physical.take)
        sender.send(can.Message(arbitration_id=0x7E0, data=b"\x02", is_extended_id=False))
        assert physical.heard == [0x7E0] and everything.heard[-1] == 0x7E0
    finally:
        notifier.stop()
        sender.shutdown()
        receiver.shutdown()


def test_a_listener_with_frame_keys_gets_only_the_frames_of_its_keys(channel: str) -> None:
    """A listener object (not a stack's method) that names several keys: a vehicle listener."""
    class Several(can.Listener):
        def __init__(self) -> None:
            self.heard: list[int] = []

        def frame_keys(self) -> set[tuple[int, bool]]:
            return {(0x100, False), (0x200, True)}

        def on_message_received(self, msg: can.Message) -> None:
            self.heard.append(msg.arbitration_id)

    sender, receiver = BenchVirtualBus(channel), BenchVirtualBus(channel)
    notifier = open_notifier(receiver)
    several, everything = Several(), KeyedListener(None)
    try:
        notifier.add_listener(several)
        notifier.add_listener(everything.take)
        for arbitration_id, is_extended in ((0x100, False), (0x200, False), (0x200, True), (0x7E0, False)):
            sender.send(can.Message(arbitration_id=arbitration_id, data=b"\x01", is_extended_id=is_extended))
        assert several.heard == [0x100, 0x200]
        assert everything.heard == [0x100, 0x200, 0x200, 0x7E0]
    finally:
        notifier.stop()
        sender.shutdown()
        receiver.shutdown()


def test_the_bench_stacks_key_their_frames_by_normal_addressing_only() -> None:
    from bench.transport.isotp_link import AddressedStack

    bus = BenchVirtualBus(f"keys-{uuid.uuid4().hex[:8]}")
    notifier = open_notifier(bus)
    try:
        normal = AddressedStack(bus, notifier, address=isotp.Address(isotp.AddressingMode.Normal_29bits, txid=0x18DA10F1,
                                                                      rxid=0x18DAF110))
        functional = AddressedStack(bus, notifier, address=isotp.AsymmetricAddress(
            tx_addr=isotp.Address(txid=0x7DF, tx_only=True), rx_addr=isotp.Address(rxid=0x7DF, rx_only=True)))
        extended = AddressedStack(bus, notifier, address=isotp.Address(isotp.AddressingMode.Extended_11bits, txid=0x6F1,
                                                                        rxid=0x612, source_address=0xF1,
                                                                        target_address=0x12))
        assert normal.frame_key() == (0x18DAF110, True)
        assert functional.frame_key() == (0x7DF, False)
        assert extended.frame_key() is None  # its address byte is in the data: it gets every frame
    finally:
        notifier.stop()
        bus.shutdown()
