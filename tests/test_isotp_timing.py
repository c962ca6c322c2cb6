"""ISO 15765-2 N_Bs/N_Cr on the bench's stacks: 1000 ms unless a profile says otherwise.

A raw CAN peer, slow but within the standard, flow-controls or sends its consecutive frames
half a second late: a stack on the ISO defaults completes the message (one on 200 ms, the old
default, gives up)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import can
import pytest

from bench.config.models import BusConfig, EcuConfig, Timing
from bench.transport.can_bus import open_bus
from bench.transport.isotp_link import address, make_stack, stack_params

BUS = BusConfig(interface="virtual", channel="unused")
ECU = EcuConfig(bus="body", request_id=0x7E0, response_id=0x7E8, profile="any")
SLOW_PEER = 0.5
"""Seconds the peer takes for a flow control or between consecutive frames: ISO allows 1."""
MESSAGE = bytes(range(20))  # first frame + 2 consecutive frames on classic CAN


def test_profile_default_is_the_iso_1000_ms() -> None:
    params = stack_params(BUS, max_frame_size=4095, timing=Timing())
    assert (params["rx_flowcontrol_timeout"], params["rx_consecutive_frame_timeout"]) == (1000, 1000)
    shorter = stack_params(BUS, max_frame_size=4095, timing=Timing(n_bs=0.2, n_cr=0.3))
    assert (shorter["rx_flowcontrol_timeout"], shorter["rx_consecutive_frame_timeout"]) == (200, 300)


@pytest.fixture
def tester_and_peer() -> Iterator[tuple[object, can.BusABC]]:
    """A started tester stack with the profile's default timing, and a raw bus handle beside it."""
    channel = f"isotp-timing-{uuid.uuid4().hex[:8]}"
    tester_bus, peer = open_bus("body", BUS, channel=channel), open_bus("body", BUS, channel=channel)
    notifier = can.Notifier(tester_bus, [], timeout=0.01)
    tester = make_stack(tester_bus, notifier, address(ECU, server=False), BUS, max_frame_size=4095, timing=Timing())
    tester.start()
    yield tester, peer
    tester.stop()
    notifier.stop()
    tester_bus.shutdown()
    peer.shutdown()


def next_frame(bus: can.BusABC, can_id: int) -> bytes:
    while True:
        frame = bus.recv(timeout=3.0)
        assert frame is not None, f"no frame on {can_id:#x}"
        if frame.arbitration_id == can_id:
            return bytes(frame.data)


def send(bus: can.BusABC, can_id: int, data: bytes) -> None:
    bus.send(can.Message(arbitration_id=can_id, data=data.ljust(8, b"\xaa"), is_extended_id=False))


def test_sender_waits_n_bs_for_a_late_flow_control(tester_and_peer) -> None:
    tester, peer = tester_and_peer
    tester.send(MESSAGE)
    first = next_frame(peer, ECU.request_id)
    assert first[:2] == bytes([0x10, len(MESSAGE)])
    time.sleep(SLOW_PEER)
    send(peer, ECU.response_id, bytes([0x30, 0x00, 0x00]))  # continue to send, no block limit, STmin 0
    consecutive = [next_frame(peer, ECU.request_id) for _ in range(2)]
    assert [frame[0] for frame in consecutive] == [0x21, 0x22]
    assert first[2:] + consecutive[0][1:] + consecutive[1][1:8] == MESSAGE


def test_receiver_waits_n_cr_for_a_late_consecutive_frame(tester_and_peer) -> None:
    tester, peer = tester_and_peer
    send(peer, ECU.response_id, bytes([0x10, len(MESSAGE)]) + MESSAGE[:6])
    assert next_frame(peer, ECU.request_id)[0] == 0x30  # the tester's flow control
    send(peer, ECU.response_id, bytes([0x21]) + MESSAGE[6:13])
    time.sleep(SLOW_PEER)
    send(peer, ECU.response_id, bytes([0x22]) + MESSAGE[13:])
    assert tester.recv(block=True, timeout=3.0) == MESSAGE


def test_p2_starts_once_the_request_is_sent_however_late_the_stack_sends_its_first_frame() -> None:
    """The tester-side stall of ``network[bcm-full-frame_loss@block:8-s2]``: the ECU flow-controlled
    RequestDownload's first frame within N_Bs and the tester never sent the next frame. Its
    P2 had started while can-isotp's thread, held up by a loaded host, was still building the
    first frame; P2 + ΔP2 ran out before the flow control came, the flasher gave up and cancelled
    the transfer. Here the thread is held up on purpose and the ECU's flow control comes past
    P2 + ΔP2 from the call: the request must still complete."""
    from udsoncan import MemoryLocation

    from bench.config.models import EcuProfile
    from bench.transport.uds_client import TesterLink

    profile = EcuProfile(bootloader="single_bank")  # P2 + ΔP2 = 200 ms, N_Bs = 1 s
    answer_within = profile.timing.p2 + profile.timing.network_margin
    channel = f"isotp-stall-{uuid.uuid4().hex[:8]}"
    tester_bus, peer = open_bus("body", BUS, channel=channel), open_bus("body", BUS, channel=channel)
    notifier = can.Notifier(tester_bus, [], timeout=0.01)
    link = TesterLink(ECU, profile, BUS, tester_bus, notifier).open()
    stack = link.connection.isotp_layer
    build = stack._make_tx_msg  # noqa: SLF001 - the step between dequeuing a message and sending its first frame

    def held_up(arbitration_id: int, data: bytes):  # noqa: ANN202 - can-isotp's CanMessage
        if data[0] >> 4 == 1:  # a first frame: the thread loses the CPU here
            time.sleep(answer_within * 0.75)
        return build(arbitration_id, data)

    stack._make_tx_msg = held_up  # noqa: SLF001

    def ecu() -> None:
        assert next_frame(peer, ECU.request_id)[0] >> 4 == 1
        time.sleep(answer_within * 0.5)  # within N_Bs; P2 + ΔP2 from the call is over by now
        send(peer, ECU.response_id, bytes([0x30, 0x00, 0x00]))
        assert next_frame(peer, ECU.request_id)[0] == 0x21  # the tester goes on
        send(peer, ECU.response_id, bytes([0x04, 0x74, 0x20, 0x10, 0x02]))  # block length 0x1002

    answering = threading.Thread(target=ecu)
    answering.start()
    try:
        response = link.client.request_download(MemoryLocation(0x8000, 0x10000, 32, 32))
        assert response.service_data.max_length == 0x1002
    finally:
        answering.join(5.0)
        link.close()
        notifier.stop()
        tester_bus.shutdown()
        peer.shutdown()
