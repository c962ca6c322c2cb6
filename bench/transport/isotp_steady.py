"""can-isotp's consecutive frames without its per-frame overhead (issue 17).

A catalog scenario moves thousands of consecutive frames (CF) through can-isotp, and the
library's state machine spends most of the bench's CPU on them: per frame it parses a ``PDU``
object, builds a new N_Cr ``Timer``, returns a frozen report dataclass, reads the message byte
by byte through a generator and re-checks the whole transmit state (flow control, rate limiter,
timers, standby frames) before it emits the next one.

``SteadyFrames`` is a mixin for ``isotp.TransportLayerLogic`` subclasses that takes the two
steady states of a transfer off that path, and leaves everything else to the library:

* **sending CFs** (``TxState.TRANSMIT_CF``, STmin 0, no flow control pending): the library emits
  one CF per ``_process_tx`` call, and its ``process`` loop calls it again at once, without
  reading the bus in between, until the message ends, the receiver's block size asks for a flow
  control or the rate limiter (always on in can-isotp 2.0.7) stops it. Here one call consumes
  those bytes at once (a message given as bytes is sliced, not read byte by byte through the
  library's generator: ``send``, ``_slice``; one given as a generator is the library's) and hands the frames to ``_send_block`` (the
  frame sender for each, or a bus that takes them together); the last one is returned to
  ``process`` as the library would return it, so it goes on the bus after the request is
  marked complete, exactly as before;
* **receiving the expected CF** (``RxState.WAIT_CF``, the right sequence number and RX_DL): the
  same state changes as the library's (N_Cr restarted, sequence number, data appended, the
  message queued when complete, a flow control requested at the block size), without the
  ``PDU`` object; the frames that came together with it (a block on the bench's bus, waiting
  in ``_together``) taken in the same loop while each is the next one. Any other frame (first,
  single, flow control, a wrong sequence number, a changed RX_DL) goes to the library's
  ``_process_rx``;
* **the N_Cr check before every received frame** (``_check_timeouts_rx``): the timer's test
  inline; the library reports and stops the reception when it has run out.

The frames on the bus, their order, the messages received, the errors reported and the states
left behind are the library's: ``tests/test_isotp_steady.py`` drives a plain can-isotp stack
and a ``SteadyFrames`` one through the same frames and sends (including broken sequences) and
compares everything; ``tests/test_library_internals.py`` checks the internals read here.
With the stack's logger at DEBUG (which logs every frame in ``process``) the library's own path
runs.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import deque
from collections.abc import Generator
from copy import copy
from typing import Any

import isotp
from isotp.protocol import TransportLayerLogic
from isotp.tools import FiniteByteGenerator

_TRANSMIT_CF = TransportLayerLogic.TxState.TRANSMIT_CF
_WAIT_FC = TransportLayerLogic.TxState.WAIT_FC
_WAIT_CF = TransportLayerLogic.RxState.WAIT_CF
_CONTINUE = isotp.protocol.PDU.FlowStatus.ContinueToSend
_RX_REPORTS = {(immediate, complete): TransportLayerLogic.ProcessRxReport(immediate_tx_required=immediate,
                                                                           frame_received=complete)
               for immediate in (False, True) for complete in (False, True)}
"""can-isotp's reports are frozen: one of each kind serves every frame."""
TAKEN = _RX_REPORTS[(False, False)]
"""The report of a CF taken in the middle of a message: nothing to send, nothing complete."""


class SteadyFrames(TransportLayerLogic):
    """Mix in before the can-isotp class: ``class Stack(SteadyFrames, isotp.NotifierBasedCanStack)``."""

    _sliceable: weakref.WeakKeyDictionary[Generator[int, None, None], tuple[bytes, list[int]]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._sliceable = weakref.WeakKeyDictionary()  # set first: nothing in the library's __init__ may meet it unset
        self._together: deque[isotp.CanMessage] = deque()
        """Frames for this stack that arrived together with the one ``process`` is handling, in
        arrival order, not read yet: a stack's reader fills it and reads from it first."""
        super().__init__(*args, **kwargs)

    def _process_tx(self) -> TransportLayerLogic.ProcessTxReport:
        if self._streaming():
            return self._send_consecutive_frames()
        return super()._process_tx()

    def _streaming(self) -> bool:
        """The library would now emit CFs back to back: nothing but the next frame to do."""
        stmin = self.timer_tx_stmin
        return (self.tx_state == _TRANSMIT_CF and not self.pending_flow_control_tx
                and self.last_flow_control_frame is None
                and (not self.remote_blocksize or self.tx_block_counter < self.remote_blocksize)
                and stmin.timeout == 0 and stmin.start_time is not None and self.timer_rx_fc.start_time is None
                and self.tx_standby_msg is None and self.active_send_request is not None
                and self.active_send_request.generator._gen in self._sliceable  # a message given as bytes
                and not self.active_send_request.generator.depleted()
                and not self.logger.isEnabledFor(logging.DEBUG))

    def _send_consecutive_frames(self) -> TransportLayerLogic.ProcessTxReport:
        """The CFs up to the end of the message or of the receiver's block; the last one returned."""
        generator = self.active_send_request.generator  # type: ignore[union-attr] - checked by _streaming
        prefix = bytes(self.address.get_tx_payload_prefix())
        room = self.params.tx_data_length - 1 - len(prefix)
        remaining = generator.remaining_size()
        frames = -(-remaining // room)
        if self.remote_blocksize:
            frames = min(frames, self.remote_blocksize - self.tx_block_counter)
        limiter = self.rate_limiter
        allowed = limiter.allowed_bytes()  # less each frame by the frame's length, as the library counts
        frame_length = len(prefix) + 1 + room  # a full CF needs no padding (tx_data_length bytes)
        if limiter.enabled:
            full = max(0, (allowed - room) // frame_length + 1) if allowed >= room else 0
            frames = min(frames, full + (1 if frames > full and allowed - full * frame_length >= remaining - full * room
                                         else 0))
        payload = self._slice(generator, min(remaining, frames * room))
        arbitration_id = self.address.get_tx_arbitration_id()
        extended, fd, switch = self.address.is_tx_29bits(), self.params.can_fd, self.params.bitrate_switch
        seqnum, count = self.tx_seqnum, -(-len(payload) // room)
        if not count:  # the rate limiter lets no frame through yet
            return self.ProcessTxReport(msg=None, immediate_rx_required=False)
        heads = [bytearray(prefix) + bytes((0x20 | (seqnum + n) & 0xF,)) for n in range(min(count, 16))]
        block = [heads[n & 0xF] + payload[n * room:n * room + room] for n in range(count - 1)]  # all full
        data = prefix + bytes((0x20 | (seqnum + count - 1) & 0xF,)) + payload[(count - 1) * room:]
        full_dlc = self._get_dlc(bytes(frame_length), validate_tx=True)
        last = (isotp.CanMessage(arbitration_id, full_dlc, data, extended, fd, switch) if len(data) == frame_length
                else self._make_tx_msg(arbitration_id, data))
        # every frame's bytes for the rate limiter (always on in can-isotp 2.0.7), told at once: the
        # frames are made at one moment, so they count in the same time slot as frame by frame
        limiter.inform_byte_sent(sum(map(len, block)) + len(last.data))
        self.tx_block_counter += count
        if block:
            self._send_block(arbitration_id, full_dlc, extended, fd, switch, block)
        self.tx_seqnum = (seqnum + count) & 0xF
        self.timer_tx_stmin.start()
        immediate_rx = False
        if generator.depleted():  # a message of bytes is never short: the library's BadGeneratorError cannot come
            self._stop_sending(success=True)
        elif self.remote_blocksize != 0 and self.tx_block_counter >= self.remote_blocksize:
            self.tx_state = _WAIT_FC
            immediate_rx = True
            self._start_rx_fc_timer()
        return self.ProcessTxReport(msg=last, immediate_rx_required=immediate_rx)

    def send(self, data: bytes | bytearray | TransportLayerLogic.SendGenerator,
             target_address_type: int | None = None, send_timeout: float | None = None) -> None:
        """As the library's; a message given as bytes is read through a generator that a burst can
        also slice (``_slice``): the library's own reads it byte by byte, a resumption per byte. A
        message given as a generator (which may run short) is sent by the library alone."""
        if isinstance(data, (bytes, bytearray)):
            message, at = bytes(data), [0]
            reader = _reader(message, at)
            self._sliceable[reader] = (message, at)
            data = (reader, len(message))
        super().send(data, target_address_type, send_timeout)

    def _slice(self, generator: FiniteByteGenerator, size: int) -> bytes:
        """What ``generator.consume(size)`` gives of a message given as bytes (``send``), sliced."""
        message, at = self._sliceable[generator._gen]
        data = message[at[0]:at[0] + size]
        at[0] += len(data)
        generator._consumed += len(data)  # what consume() counts (tests/test_library_internals.py)
        return data

    def _send_block(self, arbitration_id: int, dlc: int, extended: bool, fd: bool, switch: bool,
                    payloads: list[bytearray]) -> None:
        """All but the last CF of a burst, full ones, given as their payloads, in order (a frame to
        ``txfn`` each; a stack on a bus that takes them together overrides this)."""
        for data in payloads:
            self.txfn(isotp.CanMessage(arbitration_id, dlc, data, extended, fd, switch))

    def _check_timeouts_rx(self) -> None:
        timer = self.timer_rx_cf  # Timer.is_timed_out(), without its two calls a frame
        started = timer.start_time
        if started is not None and (time.perf_counter_ns() - started > timer.timeout or timer.timeout == 0):
            super()._check_timeouts_rx()

    def _process_rx(self, msg: isotp.CanMessage) -> TransportLayerLogic.ProcessRxReport:
        """``msg``, then the frames that came with it (``_together``) while each is the expected CF:
        the expected CFs taken in a row (``_take_consecutive_frames``), any other frame by the
        library's ``_process_rx``. At DEBUG ``process`` logs every frame it reads: one at a time then."""
        if self.logger.isEnabledFor(logging.DEBUG):
            return self._take_consecutive_frames(deque((msg,))) or super()._process_rx(msg)
        together = self._together
        together.appendleft(msg)
        report = self._take_consecutive_frames(together)
        if report is None:  # msg is not the expected CF: still first in line
            together.popleft()
            report = super()._process_rx(msg)
        return report

    def _take_consecutive_frames(self, frames: deque[isotp.CanMessage]) -> TransportLayerLogic.ProcessRxReport | None:
        """Take the frames at the front of ``frames`` while each is the expected CF, each as the
        library takes one: the sequence number, the data appended, the message queued when
        complete, a flow control requested at the block size. The report of the last frame taken;
        None when the first is not one to take (nothing changed). Stops at a frame the library must
        see (any other frame, a changed RX_DL) and leaves it first in line.

        The first frame is the one ``process`` has just read, after its N_Cr check; the others came
        with it, at the same moment: no N_Cr runs out between them (the library would check it
        again before each as it reads them, and find it run out only if its own thread had been
        held up that long)."""
        if self.rx_state != _WAIT_CF:
            return None
        timer = self.timer_rx_cf  # restarted in place: _start_rx_cf_timer() builds a new one each frame
        now = time.perf_counter_ns()
        start = self.address.get_rx_prefix_size()
        n_cr = int(float(self.params.rx_consecutive_frame_timeout) / 1000 * 1e9)
        buffer, length, actual_rxdl, blocksize = self.rx_buffer, self.rx_frame_length, self.actual_rxdl, \
            self.params.blocksize
        report = None
        while frames:
            data = frames[0].data
            can_dl = len(data)
            if can_dl <= start or data[start] != 0x20 | (self.last_seqnum + 1) & 0xF:
                break
            missing = length - len(buffer)
            rx_dl = can_dl if can_dl > 8 else 8
            if rx_dl != actual_rxdl and rx_dl < missing:
                break  # a changed RX_DL: the library reports it
            frames.popleft()
            timer.timeout, timer.start_time = n_cr, now
            self.last_seqnum = data[start] & 0xF
            buffer.extend(data[start + 1:start + 1 + missing])
            if len(buffer) >= length:
                self.rx_queue.put(copy(buffer))
                self._stop_receiving()  # which also drops a pending flow control
                return _RX_REPORTS[(False, True)]
            self.rx_block_counter += 1
            if blocksize > 0 and self.rx_block_counter % blocksize == 0:
                self._request_tx_flowcontrol(_CONTINUE)
                timer.stop()
                return _RX_REPORTS[(True, False)]
            if self.pending_flow_control_tx:
                return _RX_REPORTS[(True, False)]
            report = TAKEN
        return report


def _reader(message: bytes, at: list[int]) -> Generator[int, None, None]:
    """The bytes of ``message`` one by one from ``at[0]`` on, as the library's generator of a message
    gives them; ``at[0]`` is where the next byte is (``SteadyFrames._slice`` moves it too)."""
    while at[0] < len(message):
        index = at[0]
        at[0] = index + 1
        yield message[index]
