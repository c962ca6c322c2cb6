"""ISO 15765-2 on the virtual ECU's side, frame by frame on the bus: what it must ignore, and a
flow control with a reserved STmin (used as 127 ms, not an abort)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import can
import isotp
import pytest

from bench.rig import Bench
from bench.sim.isotp_server import EcuStack, admit
from sim_factory import h

QUIET = 0.3
"""How long the bus must stay silent to count as "no answer" (the ECU answers in milliseconds)."""
PATIENCE = 2.0
"""How long to wait for a frame that must come (a busy test machine is slow)."""
PAD = b"\xaa"


def frame(arbitration_id: int, data: bytes, *, fd: bool = False) -> can.Message:
    if not fd:
        data = data.ljust(8, PAD)
    return can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False, is_fd=fd)


# -- admit(), the frame filter --------------------------------------------------------------------

@pytest.mark.parametrize(("data", "functional", "fd_bus", "admitted"), [
    (h("02 3E 00"), True, False, True),                       # functional single frame
    (h("10 09 22 F1 89 F1 87 FD"), True, False, False),       # functional first frame
    (h("21 02 F1 8C"), True, False, False),                   # functional consecutive frame
    (h("10 09 22 F1 89 F1 87 FD"), False, False, True),
    (h("10 07 22 F1 89 F1 87 FD"), False, False, False),      # FF_DL 7 fits a single frame
    (h("10 00 00 00 0F FF 22 F1"), False, False, False),      # escape sequence for 4095 bytes
    (h("10 00 00 00 10 00 22 F1"), False, False, True),       # escape sequence for 4096 bytes
])
def test_admit_classic_frames(data: bytes, functional: bool, fd_bus: bool, admitted: bool) -> None:
    msg = frame(0x7E0, data)
    assert (admit(msg, functional=functional, fd_bus=fd_bus) is msg) is admitted


def test_admit_ignores_can_fd_frames_on_a_classic_bus() -> None:
    msg = frame(0x7E0, h("00 02 3E 00").ljust(12, PAD), fd=True)
    assert admit(msg, functional=False, fd_bus=False) is None
    assert admit(msg, functional=False, fd_bus=True) is msg


@pytest.mark.parametrize(("ff_dl", "admitted"), [(62, False), (63, True)])
def test_admit_can_fd_first_frame_shorter_than_rx_dl_minus_one(ff_dl: int, admitted: bool) -> None:
    msg = frame(0x7E1, bytes([0x10, ff_dl]) + bytes(62), fd=True)
    assert (admit(msg, functional=False, fd_bus=True) is not None) is admitted


@pytest.mark.parametrize(("stmin", "used"), [(0x80, 0x7F), (0xF0, 0x7F), (0xFA, 0x7F), (0xFF, 0x7F),
                                             (0x7F, 0x7F), (0x05, 0x05), (0xF1, 0xF1), (0xF9, 0xF9)])
def test_admit_uses_127_ms_for_a_reserved_stmin(stmin: int, used: int) -> None:
    admitted = admit(frame(0x7E0, bytes([0x30, 0x00, stmin])), functional=False, fd_bus=False)
    assert admitted is not None and admitted.data[2] == used


def test_can_isotp_still_calls_the_notifier_hook_the_ecu_stack_filters_in() -> None:
    """The filter hangs on can-isotp's private ``_on_message_received``; if a can-isotp release
    renames it, the ECU stack filters nothing and this test says why."""
    assert "_on_message_received" in vars(isotp.NotifierBasedCanStack), (
        "can-isotp no longer has NotifierBasedCanStack._on_message_received: bench.sim.isotp_server.EcuStack "
        "must hook its frame filter elsewhere")
    assert EcuStack._on_message_received is not isotp.NotifierBasedCanStack._on_message_received


# -- on the bus -------------------------------------------------------------------------------------

@pytest.fixture
def rig(bench_config, tmp_path: Path):
    with Bench(bench_config, workdir=tmp_path, ecus=["bcm", "bms"], gateway=False) as bench:
        yield bench


@pytest.fixture
def body(rig: Bench):
    bus = can.Bus(interface="virtual", channel=rig.channel("body"), receive_own_messages=False)
    yield bus
    bus.shutdown()


@pytest.fixture
def powertrain(rig: Bench):
    bus = can.Bus(interface="virtual", channel=rig.channel("powertrain"), protocol=can.CanProtocol.CAN_FD)
    yield bus
    bus.shutdown()


def answers(bus: can.BusABC, response_id: int, *, quiet: float = QUIET, first_within: float = QUIET) -> list[bytes]:
    """Data of the frames on ``response_id`` until the bus has been quiet for ``quiet`` seconds
    (``first_within`` before the first one: longer where an answer must come)."""
    seen: list[bytes] = []
    last = time.monotonic() - quiet + first_within
    while time.monotonic() - last < quiet:
        msg = bus.recv(timeout=0.02)
        if msg is not None and msg.arbitration_id == response_id:
            seen.append(bytes(msg.data))
            last = time.monotonic()
    return seen


def still_answers(bus: can.BusABC, request_id: int = 0x7E0, response_id: int = 0x7E8) -> None:
    bus.send(frame(request_id, h("02 3E 00")))
    assert answers(bus, response_id, first_within=PATIENCE) == [h("02 7E 00").ljust(8, PAD)]


def test_functional_first_frame_gets_no_flow_control_and_is_not_processed(body) -> None:
    body.send(frame(0x7DF, h("10 09 22 F1 89 F1 87 FD")))
    body.send(frame(0x7DF, h("21 02 F1 8C")))
    assert answers(body, 0x7E8) == []
    still_answers(body)


@pytest.mark.parametrize("data", [h("10 07 22 F1 89 F1 87 FD"), h("10 00 00 00 00 09 22 F1")],
                         ids=["ff-dl-below-8", "escape-sequence-below-4096"])
def test_first_frame_that_fits_a_single_frame_is_ignored(body, data: bytes) -> None:
    body.send(frame(0x7E0, data))
    body.send(frame(0x7E0, h("21 02 F1 8C")))
    assert answers(body, 0x7E8) == []
    still_answers(body)


def test_can_fd_frame_on_the_classic_bus_is_not_processed(body) -> None:
    body.send(frame(0x7E0, h("00 02 3E 00").ljust(12, PAD), fd=True))
    body.send(frame(0x7E0, h("02 3E 00"), fd=True))
    assert answers(body, 0x7E8) == []
    still_answers(body)


def test_can_fd_first_frame_that_fits_a_single_frame_is_ignored(powertrain) -> None:
    powertrain.send(frame(0x7E1, bytes([0x10, 62]) + h("22 F1 89") + bytes(59), fd=True))
    assert answers(powertrain, 0x7E9) == []
    powertrain.send(frame(0x7E1, h("02 3E 00").ljust(8, PAD), fd=True))
    assert [data[:3] for data in answers(powertrain, 0x7E9, first_within=PATIENCE)] == [h("02 7E 00")]


@pytest.mark.parametrize("stmin", [0x80, 0xF0, 0xFA, 0xFF])
def test_reserved_stmin_is_used_as_127_ms_not_an_abort(body, stmin: int) -> None:
    expected = h("62 F1 89") + b"1.0.0" + h("F1 87") + b"BCM-PART_NUMBER"
    body.send(frame(0x7E0, h("05 22 F1 89 F1 87")))
    first = answers(body, 0x7E8, quiet=0.1, first_within=PATIENCE)
    assert first == [bytes([0x10, len(expected)]) + expected[:6]]
    body.send(frame(0x7E0, bytes([0x30, 0x00, stmin])))
    consecutive = answers(body, 0x7E8, quiet=1.0, first_within=PATIENCE)  # three frames, 127 ms apart
    assert [data[0] for data in consecutive] == [0x21, 0x22, 0x23]
    assert expected[:6] + b"".join(data[1:] for data in consecutive)[:len(expected) - 6] == expected


def test_frames_ignored_while_idle_are_logged_once_a_message(body, caplog: pytest.LogCaptureFixture) -> None:
    """A download cut short leaves the rest of its consecutive frames to an idle stack: one line
    for them, not one per frame (can-isotp's own warning per frame is not emitted)."""
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        for seqnum in range(30):
            body.send(frame(0x7E0, bytes([0x20 | (seqnum + 1) & 0xF]) + bytes(7)))
        still_answers(body)  # the stack took the frames before this message (it takes them in order)
    ignored = [record for record in caplog.records if "while reception was idle" in record.getMessage()]
    assert len(ignored) == 2, [record.getMessage() for record in ignored]
    assert all(record.name == "bench.sim.isotp_server" and "0x7E0" in record.getMessage() for record in ignored)


@pytest.mark.parametrize(("functional", "fd_frame"), [(False, False), (False, True), (True, False)])
def test_frames_taken_together_are_admitted_as_one_by_one(functional: bool, fd_frame: bool,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.sim.isotp_server import make_ecu_stack
    from bench.transport.can_bus import open_notifier
    from bench.transport.isotp_link import AddressedStack, address
    from bench.transport.virtual_bus import BenchVirtualBus
    from bench.config.models import BusConfig, EcuConfig

    taken: list[list[can.Message]] = []
    monkeypatch.setattr(AddressedStack, "take_frames", lambda self, msgs: taken.append(list(msgs)))
    bus = BenchVirtualBus(f"admit-{functional}-{fd_frame}")
    notifier = open_notifier(bus)
    ecu = EcuConfig(bus="b", request_id=0x7E0, response_id=0x7E8, functional_id=0x7DF, profile="p")
    try:
        stack = make_ecu_stack(bus, notifier, address(ecu, server=True, functional=functional),
                               BusConfig(interface="virtual", channel="b"), functional=functional, max_frame_size=4095)
        frames = [frame(0x7DF if functional else 0x7E0, bytes([0x21 + n]) + bytes(7)) for n in range(4)]
        if fd_frame:
            frames[2] = frame(0x7E0, bytes([0x23]) + bytes(11), fd=True)  # not a frame of a classic CAN network
        stack.take_frames(frames)
    finally:
        notifier.stop()
        bus.shutdown()
    one_by_one = [msg for msg in frames if admit(msg, functional=functional, fd_bus=False) is msg]
    assert taken == [one_by_one]
    assert len(one_by_one) == (0 if functional else 3 if fd_frame else 4)
