"""``SteadyFrames`` (bench/transport/isotp_steady.py) does what can-isotp does, frame for frame.

A plain ``isotp.TransportLayerLogic`` and one with ``SteadyFrames`` mixed in are driven, without
threads, through the same sends and the same received frames: messages of every length, both
frame sizes, normal and extended addressing, the receiver's block sizes, flow controls that say
wait or overflow, a rate limit that bites inside a block, and received streams broken every way
a faulty bus or ECU breaks them (a wrong or repeated sequence number, a single or first frame
in the middle, a changed RX_DL, a frame cut short). After every step the frames sent, the
messages received, the errors reported, the states, counters and timers must be the same.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import isotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.transport import isotp_steady
from bench.transport.isotp_steady import SteadyFrames


class Steady(SteadyFrames, isotp.TransportLayerLogic):
    pass


class Side:
    """One stack with a frame inbox, a record of what it sent and of the errors it reported."""

    def __init__(self, kind: type[isotp.TransportLayerLogic], address: isotp.Address, params: dict,
                 together: bool = False) -> None:
        self.inbox: list[isotp.CanMessage] = []
        self.together = together
        """The frames of one step arrive together (as a block on the bench's bus): the first is
        read, the others wait in the stack's ``_together``, which it reads first."""
        self.sent: list[tuple] = []
        self.errors: list[str] = []
        self.received: list[bytes] = []
        self.frames_received = 0
        """Messages completed, as ``process()`` counts them (its other counts are of frames read, and
        a stack that takes frames in a row reads fewer)."""
        self.order: list[str] = []
        """Frames sent, errors reported and the request's completion, in the order they happened."""
        self.stack = kind(rxfn=self._read, txfn=self._write, address=address, params=params,
                          error_handler=self._error)

    def _error(self, error: Exception) -> None:
        self.errors.append(f"{type(error).__name__}: {error}")
        self.order.append(f"error {type(error).__name__}")

    def _read(self, timeout: float) -> isotp.CanMessage | None:
        if self.together and self.stack._together:
            return self.stack._together.popleft()
        frame = self.inbox.pop(0) if self.inbox else None
        if self.together:
            self.stack._together.extend(self.inbox)
            self.inbox.clear()
        return frame

    def _write(self, frame: isotp.CanMessage) -> None:
        request = self.stack.active_send_request
        self.order.append(f"frame {bytes(frame.data).hex()} (request complete: "
                          f"{request is not None and request.complete_event.is_set()})")
        self.sent.append((frame.arbitration_id, bytes(frame.data), frame.dlc, frame.is_extended_id, frame.is_fd,
                          frame.bitrate_switch))

    def seen(self) -> dict:
        stack = self.stack
        while (message := stack.recv()) is not None:
            self.received.append(bytes(message))
        request = stack.active_send_request
        return {
            "sent": list(self.sent), "received": list(self.received), "errors": list(self.errors), "order": list(self.order),
            "states": (stack.tx_state, stack.rx_state), "pending_fc": stack.pending_flow_control_tx,
            "counters": (stack.tx_seqnum, stack.tx_block_counter, stack.last_seqnum, stack.rx_block_counter,
                         stack.rx_frame_length, bytes(stack.rx_buffer), stack.remote_blocksize, stack.wft_counter),
            "timers": tuple((timer.start_time, timer.timeout) for timer in (stack.timer_rx_cf, stack.timer_rx_fc, stack.timer_tx_stmin)),
            "request": None if request is None else (request.complete_event.is_set(), request.success,
                                                     request.generator.remaining_size()),
            "limiter": stack.rate_limiter.bit_total, "completed": self.frames_received,
        }


def pair(address: isotp.Address, params: dict, together: bool = False) -> tuple[Side, Side]:
    return Side(isotp.TransportLayerLogic, address, params), Side(Steady, address, params, together)


class Clock:
    """The stacks' clock (their timers, STmin, N_Cr, the rate limiter), moved only by the test."""

    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def perf_counter_ns(self) -> int:
        return self.ns

    def perf_counter(self) -> float:
        return self.ns / 1e9

    def sleep(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


@contextmanager
def frozen_clock() -> Iterator[Clock]:
    clock = Clock()
    fake = types.SimpleNamespace(perf_counter_ns=clock.perf_counter_ns, perf_counter=clock.perf_counter,
                                 sleep=clock.sleep)
    with mock.patch.object(isotp.tools, "time", fake), mock.patch.object(isotp.protocol, "time", fake), \
            mock.patch.object(isotp_steady, "time", fake):
        yield clock


def step(sides: tuple[Side, Side], frames: list[bytes] = (), arbitration_id: int = 0x7E8, fd: bool = False,
         do_tx: bool = True) -> None:
    """Hand both stacks the same frames, run ``process()`` once, compare what they did."""
    for side in sides:
        side.inbox.extend(isotp.CanMessage(arbitration_id=arbitration_id, data=bytes(frame), dlc=len(frame),
                                           is_fd=fd) for frame in frames)
        side.frames_received += side.stack.process(do_tx=do_tx).frame_received
    library, steady = (side.seen() for side in sides)
    assert steady == library


ADDRESSES = {
    "normal": isotp.Address(isotp.AddressingMode.Normal_11bits, txid=0x7E0, rxid=0x7E8),
    "extended": isotp.Address(isotp.AddressingMode.Extended_11bits, txid=0x7E0, rxid=0x7E8, target_address=0x55,
                              source_address=0x66),
}


def params(fd: bool, **more: object) -> dict:
    return {"stmin": 0, "blocksize": 0, "tx_padding": 0xAA, "max_frame_size": 0x10000,
            "tx_data_length": 64 if fd else 8, "can_fd": fd, **more}


def flow_control(addressing: str, status: int = 0, blocksize: int = 0, stmin: int = 0) -> bytes:
    return (b"\x66" if addressing == "extended" else b"") + bytes((0x30 | status, blocksize, stmin))


ANSWER = st.tuples(st.sampled_from(["go", "go", "wait", "overflow", "nothing"]),
                   st.sampled_from([0, 0, 0x05, 0xF5]),  # STmin: none, 5 ms, 500 us
                   st.sampled_from([0, 0.0002, 0.003, 0.006, 1.5]))  # then the clock moves on


@given(length=st.integers(1, 3000), fd=st.booleans(), addressing=st.sampled_from(sorted(ADDRESSES)),
       blocksize=st.sampled_from([0, 1, 2, 5, 15]), answers=st.lists(ANSWER, min_size=1, max_size=10))
def test_sending_matches_can_isotp(length: int, fd: bool, addressing: str, blocksize: int,
                                   answers: list[tuple[str, int, float]]) -> None:
    with frozen_clock() as clock:
        sides = pair(ADDRESSES[addressing], params(fd, wftmax=2))
        payload = bytes(i * 7 & 0xFF for i in range(length))
        for side in sides:
            side.stack.send(payload)
        step(sides, fd=fd)  # a single frame, or the first frame
        for answer, stmin, then in answers:
            frames = [] if answer == "nothing" else [
                flow_control(addressing, {"go": 0, "wait": 1, "overflow": 2}[answer], blocksize, stmin)]
            step(sides, frames, fd=fd)
            clock.ns += int(then * 1e9)  # STmin passes, or N_Bs (1 s) runs out
            step(sides, fd=fd)
        assert sides[1].sent  # something was compared


@pytest.mark.parametrize("short_by", [0, 3, 7])
def test_a_message_given_as_a_generator_is_sent_as_can_isotp_sends_it(short_by: int) -> None:
    """The library's own path (it may run short: the error comes after the frames it had)."""
    with frozen_clock():
        sides = pair(ADDRESSES["normal"], params(False))
        for side in sides:
            side.stack.send(((byte for byte in range(100 - short_by)), 100))
        step(sides)
        step(sides, [flow_control("normal")])
        step(sides)
    assert sides[1].sent


@pytest.mark.parametrize("stmin", [0x05, 0xF5])
def test_a_separation_time_is_kept_frame_by_frame(stmin: int) -> None:
    with frozen_clock() as clock:
        sides = pair(ADDRESSES["normal"], params(False))
        for side in sides:
            side.stack.send(bytes(50))
        step(sides)
        step(sides, [flow_control("normal", 0, 0, stmin)])
        assert len(sides[1].sent) == 1  # the first frame: STmin has not passed
        clock.ns += 6_000_000
        step(sides)
        assert len(sides[1].sent) == 2


@given(length=st.integers(100, 1500), blocksize=st.sampled_from([0, 3]), bitrate=st.integers(1, 40),
       waits=st.lists(st.sampled_from([0.0, 0.05, 0.25]), max_size=6))
def test_a_rate_limit_stops_a_block_where_can_isotp_stops_it(length: int, blocksize: int, bitrate: int,
                                                             waits: list[float]) -> None:
    """can-isotp's limiter counts every frame's bytes; the burst must stop at the same frame."""
    limited = params(False, rate_limit_enable=True, rate_limit_max_bitrate=bitrate * 1000, rate_limit_window_size=0.2)
    with frozen_clock() as clock:
        sides = pair(ADDRESSES["normal"], limited)
        for side in sides:
            side.stack.send(bytes(length))
        step(sides)
        step(sides, [flow_control("normal", 0, blocksize)])
        for wait in waits:  # the window moves on: the limiter lets more through
            clock.ns += int(wait * 1e9)
            step(sides, [flow_control("normal", 0, blocksize)] if blocksize else [])
        assert len(sides[0].sent) > 1


@pytest.mark.parametrize(("length", "frames"), [(200, 3), (21, 4), (22, 3)])
def test_the_burst_stops_inside_a_block_on_a_tight_rate_limit(length: int, frames: int) -> None:
    """The limit ends the burst before the message does: 25 bytes in the window, the first frame
    takes 8, two consecutive frames 16; a last frame of one byte fits in the one left (21 bytes:
    6 + 7 + 7 + 1), one of two bytes does not (22)."""
    with frozen_clock():
        sides = pair(ADDRESSES["normal"], params(False, rate_limit_enable=True, rate_limit_max_bitrate=1000,
                                                 rate_limit_window_size=0.2))
        for side in sides:
            side.stack.send(bytes(length))
        step(sides)
        step(sides, [flow_control("normal")])
    assert len(sides[1].sent) == frames


def test_a_flow_control_whose_block_size_the_sender_has_passed_ends_the_block_as_can_isotp_ends_it() -> None:
    """A second flow control mid-transfer (a duplicate, or an ECU's unsolicited one) with a block
    size below the frames already sent, while the rate limiter holds the burst: the library sends
    one frame and waits for a flow control; the steady path must not be left with nothing to send."""
    limited = params(False, rate_limit_enable=True, rate_limit_max_bitrate=16000, rate_limit_window_size=0.05)
    with frozen_clock() as clock:
        sides = pair(ADDRESSES["normal"], limited)
        for side in sides:
            side.stack.send(bytes(range(256)) * 4)
        step(sides)
        clock.ns += 100_000_000
        step(sides, [flow_control("normal")])
        step(sides, [flow_control("normal", 0, 4)])
        for _ in range(5):
            clock.ns += 60_000_000
            step(sides)
        assert sides[1].stack.tx_state == isotp.TransportLayerLogic.TxState.WAIT_FC


def consecutive(seqnum: int, data: bytes, prefix: bytes) -> bytes:
    return prefix + bytes((0x20 | seqnum & 0xF,)) + data


BREAKS = ["none", "skip", "repeat", "single", "first", "short", "rx_dl", "flow_control", "empty", "late"]


@pytest.mark.parametrize("fd", [False, True])
@pytest.mark.parametrize("how", BREAKS)
def test_every_break_of_a_received_stream_as_can_isotp(how: str, fd: bool) -> None:
    receive(300, fd, "normal", 0, 2, how)
    receive(300, fd, "extended", 4, 3, how)
    receive(300, fd, "normal", 4, 3, how, listen=True)  # a listener (the bus monitor's stacks)


@given(length=st.integers(8, 2500), fd=st.booleans(), addressing=st.sampled_from(sorted(ADDRESSES)),
       blocksize=st.sampled_from([0, 1, 4]), where=st.integers(0, 40), how=st.sampled_from(BREAKS))
def test_receiving_matches_can_isotp(length: int, fd: bool, addressing: str, blocksize: int, where: int,
                                     how: str) -> None:
    receive(length, fd, addressing, blocksize, where, how)


def receive(length: int, fd: bool, addressing: str, blocksize: int, where: int, how: str, *,
            listen: bool = False) -> None:
    for together in (False, True):
        with frozen_clock() as clock:
            receive_stream(clock, length, fd, addressing, blocksize, where, how, listen, together)


def receive_stream(clock: Clock, length: int, fd: bool, addressing: str, blocksize: int, where: int,
                   how: str, listen: bool = False, together: bool = False) -> None:
    prefix = b"\x66" if addressing == "extended" else b""
    # the stacks receive what the other side sends: swap the ids, the ECU's prefix is 0x66
    address = isotp.Address(isotp.AddressingMode.Extended_11bits if prefix else isotp.AddressingMode.Normal_11bits,
                            txid=0x7E0, rxid=0x7E8, target_address=0x55, source_address=0x66)
    sides = pair(address, params(fd, blocksize=blocksize, listen_mode=listen), together)
    message = bytes((i * 13 + 5) & 0xFF for i in range(length))
    frame_size = 64 if fd else 8
    head = len(prefix) + 2 if length <= 0xFFF else len(prefix) + 6
    first = prefix + (bytes((0x10 | length >> 8, length & 0xFF)) if length <= 0xFFF
                      else b"\x10\x00" + length.to_bytes(4, "big"))
    first += message[:frame_size - head]
    step(sides, [first], fd=fd)
    room = frame_size - len(prefix) - 1
    offset, seqnum, number = frame_size - head, 1, 0
    pending: list[bytes] = []
    while offset < length:
        piece = message[offset:offset + room]
        frames = [consecutive(seqnum, piece, prefix)]
        if number == where:
            frames = {
                "none": frames,
                "skip": [consecutive(seqnum + 1, piece, prefix)],
                "repeat": frames + frames,
                "single": [prefix + b"\x02\x3e\x00"] + frames,
                "first": [first] + frames,
                "short": [consecutive(seqnum, piece[:2], prefix)],
                "rx_dl": [consecutive(seqnum, piece[:5], prefix)] if fd and length - offset > 5 else frames,
                "flow_control": [prefix + b"\x30\x00\x00"] + frames,
                "empty": [b""] + frames,
                "late": frames,
            }[how]
            if how == "late":
                if pending:  # the frames before it came in time
                    step(sides, pending, fd=fd)
                    pending = []
                clock.ns += 1_001_000_000  # N_Cr (1 s) ran out before this frame
        pending += frames
        if not together or number % 6 == 5 or number == where:  # together: runs of up to 6 steps' frames
            step(sides, pending, fd=fd)
            pending = []
            clock.ns += 300_000_000 if number % 5 == 4 else 1000  # N_Cr restarts with every frame
        offset, seqnum, number = offset + room, seqnum + 1, number + 1
    step(sides, pending, fd=fd)


@pytest.mark.parametrize("blocksize", [0, 2])
def test_frames_that_came_together_stop_where_can_isotp_stops_reading(blocksize: int) -> None:
    """A flow control not sent yet (``process(do_tx=False)``) makes every frame the library takes
    ask for a pass of its sender: it reads one frame a ``process``, and so must a run of frames
    that came together; a message completed among them leaves the frames after it unread; at the
    block size N_Cr stops until the flow control is sent."""
    with frozen_clock():
        sides = pair(ADDRESSES["normal"], params(False, blocksize=blocksize), together=True)
        cfs = [consecutive(n, bytes((n,)) * 7, b"") for n in range(1, 4)]
        step(sides, [b"\x10\x1b" + bytes(6)] + cfs + [b"\x02\x3e\x00"], do_tx=False)
        for _ in range(5):
            step(sides, do_tx=False)
        assert sides[1].seen()["received"] == [bytes(6) + b"".join(cf[1:] for cf in cfs), b"\x3e\x00"]


@pytest.mark.parametrize("fd", [False, True])
def test_a_whole_message_arrives_through_the_fast_path(fd: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The steady path really carries the consecutive frames (the comparison alone would pass if
    SteadyFrames always handed over to the library)."""
    library_calls = {"rx": 0, "tx": 0}
    for name, key in (("_process_rx", "rx"), ("_process_tx", "tx")):
        original = getattr(isotp.TransportLayerLogic, name)

        def counted(self: isotp.TransportLayerLogic, *args: object, _original=original, _key=key) -> object:
            library_calls[_key] += 1
            return _original(self, *args)

        monkeypatch.setattr(isotp.TransportLayerLogic, name, counted)
    sender = Side(Steady, isotp.Address(txid=0x7E0, rxid=0x7E8), params(fd))  # the real clock
    receiver = Side(Steady, isotp.Address(txid=0x7E8, rxid=0x7E0), params(fd))
    message = bytes(range(256)) * 16
    sender.stack.send(message)
    for _ in range(4):
        sender.stack.process()
        receiver.inbox.extend(isotp.CanMessage(arbitration_id=frame[0], data=frame[1], dlc=frame[2], is_fd=fd)
                              for frame in sender.sent)
        sender.sent.clear()
        receiver.stack.process()
        sender.inbox.extend(isotp.CanMessage(arbitration_id=frame[0], data=frame[1], dlc=frame[2], is_fd=fd)
                            for frame in receiver.sent)
        receiver.sent.clear()
    assert receiver.stack.recv() == message
    frames = -(-(len(message) - (62 if fd else 6)) // (63 if fd else 7))
    assert library_calls["rx"] + library_calls["tx"] < 30 < frames, (library_calls, frames)
