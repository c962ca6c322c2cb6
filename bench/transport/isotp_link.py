"""can-isotp stacks configured from the bench file (classic CAN or CAN FD)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import can
import isotp

from bench.config.models import BusConfig, EcuConfig, Timing
from bench.transport.can_bus import RECV_POLL
from bench.transport.isotp_steady import SteadyFrames
from bench.transport.virtual_bus import BenchVirtualBus

PADDING = 0xAA
IDLE_WAIT = 1.0
"""Seconds the main thread of an idle stack (nothing being received or sent, nothing queued to
send) waits on its queue: whatever gives it work puts something there and wakes it at once, so
this only bounds the wait. A stack in the middle of a message waits its ``read_timeout`` and
keeps checking N_Bs, N_Cr and STmin as before."""


def stack_params(bus: BusConfig, *, max_frame_size: int, timing: Timing | None = None) -> dict[str, object]:
    """Receiver never throttles the sender (STmin 0, block size 0): flash fast, as real testers do.
    ``timing`` gives N_Bs and N_Cr (can-isotp's defaults otherwise: ISO 15765-2's 1 s)."""
    params: dict[str, object] = {
        "stmin": 0,
        "blocksize": 0,
        "tx_padding": PADDING,
        "max_frame_size": max_frame_size,
        "tx_data_length": 64 if bus.fd else 8,
        "can_fd": bus.fd,
        "bitrate_switch": bool(bus.fd and bus.data_bitrate),
    }
    if timing is not None:
        params["rx_flowcontrol_timeout"] = round(timing.n_bs * 1000)
        params["rx_consecutive_frame_timeout"] = round(timing.n_cr * 1000)
    return params


def address(ecu: EcuConfig, *, server: bool, functional: bool = False) -> isotp.Address | isotp.AsymmetricAddress:
    """The ISO-TP address of one side: the tester sends on request_id, the ECU on response_id."""
    mode = isotp.AddressingMode.Normal_29bits if ecu.extended_id else isotp.AddressingMode.Normal_11bits
    request = ecu.functional_id if functional else ecu.request_id
    if server:
        return isotp.Address(mode, txid=ecu.response_id, rxid=request)
    if functional:
        # Functional requests are single frames answered on the physical response id. The
        # tester's functional stack only sends: it listens on its own request id, which carries
        # no answers, so it never consumes (or flow-controls) what the physical stack expects.
        return isotp.AsymmetricAddress(tx_addr=isotp.Address(mode, txid=request, tx_only=True),
                                       rx_addr=isotp.Address(mode, rxid=request, rx_only=True))
    return isotp.Address(mode, txid=request, rxid=ecu.response_id)


class AddressedStack(SteadyFrames, isotp.NotifierBasedCanStack):
    """A notifier-fed stack whose thread wakes only for frames addressed to it, one hop per frame.

    Several stacks share one bus and notifier; can-isotp hands each of them every frame and
    drops the foreign ones later, in its own threads. Here the notifier callback drops them, by
    the same ``Address.is_for_me`` test the stack applies itself, so nothing it would have
    processed is lost.

    can-isotp passes a frame from the notifier's callback through a reader queue to a relay
    thread, which puts it in the queue its main thread reads. The callback here puts it in that
    last queue itself (python-can frames as they are: they carry every field can-isotp reads), so
    the relay thread has nothing to relay and sleeps until the stack stops.

    On the bench's virtual bus a block of consecutive frames travels together
    (``SteadyFrames``): sent with one ``send_isotp_block``, taken with one ``take_frames``, read
    by the main thread through ``SteadyFrames._together``, the expected ones in a row.
    """

    last_frame_at = 0.0
    """``time.monotonic()`` when the latest frame for this stack arrived (on the bench's virtual
    bus: when it was sent)."""
    last_message_at = 0.0
    """The same for the latest single or first frame: the start of a message, never a flow control."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Every received frame passes the relay queue and every message the reception queue.
        # can-isotp only puts, gets (with a timeout), gets without waiting and asks empty() of
        # them (tests/test_library_internals.py): the C SimpleQueue does all that without
        # queue.Queue's Python-level lock and conditions (a put and a get: 0.2 µs instead of 1.4).
        self.rx_relay_queue = queue.SimpleQueue()  # type: ignore[assignment]
        self.rx_queue = queue.SimpleQueue()  # type: ignore[assignment]
        # An idle main thread waits IDLE_WAIT, not read_timeout (100 wake-ups a second per stack:
        # an idle 3-ECU bench took 103 ms of CPU a second, 56 without). Frames, send(), stop() and
        # stop_receiving() put something in the relay queue; stop_sending() only sets reset_tx,
        # which now wakes the thread too.
        self.events.reset_tx = _WakingEvent(self._wake_main_thread)
        self.events.reset_rx = _WakingEvent(self._wake_main_thread)
        self._last_request: isotp.TransportLayer.SendRequest | None = None
        wake_main_thread = self.post_send_callback

        def remember(request: isotp.TransportLayer.SendRequest) -> None:
            self._last_request = request
            if wake_main_thread is not None:
                wake_main_thread(request)

        self.post_send_callback = remember
        if isinstance(self.bus, BenchVirtualBus):  # can-isotp's sender would build a can.Message for send()
            self.txfn = self.bus.send_isotp_frame

    def frame_key(self) -> tuple[int, bool] | None:
        """The (CAN id, 29-bit) of every frame this stack takes (normal addressing: ``Address.is_for_me``
        compares just these), for a notifier that routes frames (``DirectNotifier``); None when
        the address puts more in the frame (extended, mixed, normal fixed addressing)."""
        receiving = self.address.rx_addr if isinstance(self.address, isotp.AsymmetricAddress) else self.address
        if getattr(receiving.is_for_me, "__func__", None) is not isotp.Address._is_for_me_normal:
            return None
        return receiving.get_rx_arbitration_id(), receiving.is_rx_29bits()

    def sending(self) -> bool:
        """True until the last message given to ``send`` is on the bus or abandoned (N_Bs).

        can-isotp's ``transmitting()`` reads the queue and the state machine, which its thread
        updates one after the other: between taking a message off the queue and entering
        WAIT_FC it reads False although the first frame is not even sent. A tester that starts
        P2 then (``BenchAwareConnection``) gives up on an ECU whose flow control comes within
        N_Bs but past P2, and cancels the transfer: the ECU's ``30 00 00`` is never followed by
        a consecutive frame (a tester-side stall). The request's own completion has no such gap."""
        request = self._last_request
        return request is not None and not request.complete_event.is_set()

    def sent(self, timeout: float) -> bool:
        """Wait until the last message given to ``send`` is on the bus (True) or abandoned (False)."""
        request = self._last_request
        return request is not None and request.complete_event.wait(timeout) and request.success

    def stop(self, *args: object, **kwargs: object) -> None:
        """As can-isotp's (which empties the main thread's queue), and what came together with it."""
        super().stop(*args, **kwargs)
        self._together.clear()

    def clear_tx_queue(self) -> None:
        """Drop the messages not yet begun, as abandoned (``sending()`` must not wait for them)."""
        while not self.tx_queue.empty():
            self.tx_queue.get_nowait().complete(False)

    def _on_message_received(self, msg: can.Message) -> None:
        if self.address.is_for_me(msg):  # type: ignore[arg-type] - python-can frames carry the same fields
            self._take(msg)

    def _take(self, msg: can.Message) -> None:
        """Queue a frame addressed to this stack for its main thread (``take_frames`` of one)."""
        self.take_frames([msg])

    def take_frames(self, msgs: list[can.Message]) -> None:
        """Frames for this stack (one, or a block sent together that ``DirectNotifier`` routed by
        ``frame_key``): one item in the main thread's queue, which reads them one by one
        (``_read_relay_queue``; python-can frames carry every field can-isotp reads of one)."""
        frames = [msg for msg in msgs if not (msg.is_error_frame or msg.is_remote_frame)]  # as can-isotp drops them
        if self.buffered_reader is None or not frames:  # stopped
            return
        self.last_frame_at = now = time.monotonic()
        if any(msg.data and msg.data[0] >> 4 <= 1 for msg in frames):  # a single or first frame (normal addressing)
            self.last_message_at = now
        self.rx_relay_queue.put(frames)

    def _send_block(self, arbitration_id: int, dlc: int, extended: bool, fd: bool, switch: bool,
                    payloads: list[bytearray]) -> None:
        bus = self.bus
        if isinstance(bus, BenchVirtualBus) and self.txfn == bus.send_isotp_frame:  # the bench's virtual bus: together
            bus.send_isotp_block(arbitration_id, extended, fd, switch, payloads)
        else:
            super()._send_block(arbitration_id, dlc, extended, fd, switch, payloads)

    def _wake_main_thread(self) -> None:
        self.rx_relay_queue.put(None)  # as can-isotp's own wake-ups: a read that returns no frame

    def _read_relay_queue(self, timeout: float | None) -> isotp.CanMessage | None:
        """The main thread's read: as long as ``IDLE_WAIT`` when the stack has nothing to time."""
        together = self._together
        if together:
            return together.popleft()
        if timeout and self.rx_state == self.RxState.IDLE and self.tx_state == self.TxState.IDLE \
                and self.tx_queue.empty():
            timeout = IDLE_WAIT
        try:  # can-isotp's own read (tests/test_library_internals.py), one call less a frame
            item = self.rx_relay_queue.get(block=True, timeout=timeout)
        except queue.Empty:
            return None
        if item is None:  # a wake-up (_wake_main_thread, can-isotp's own), no frame
            return None
        together.extend(item)  # the frames of one take_frames
        return together.popleft()

    def _rx_canbus(self, timeout: float) -> None:
        """The relay thread's read: nothing comes this way; wait until the stack stops."""
        self.events.stop_requested.wait()

    # can-isotp 2.0.7 sets ``reset_tx_complete``/``reset_rx_complete`` when its thread has
    # reset a direction and clears them only in start()/stop(): from the second call on, these
    # return before the reset is done, and it then lands on the next transmission (cancelled
    # after its first frame) or reception. udsoncan calls both before every retry.
    def stop_sending(self) -> None:
        self.events.reset_tx_complete.clear()
        super().stop_sending()

    def stop_receiving(self) -> None:
        self.events.reset_rx_complete.clear()
        super().stop_receiving()


class _WakingEvent(threading.Event):
    """One of can-isotp's requests to its main thread (reset_tx, reset_rx) that also wakes it."""

    def __init__(self, wake: Callable[[], None]) -> None:
        super().__init__()
        self._wake = wake

    def set(self) -> None:
        super().set()
        self._wake()


def make_stack(bus: can.BusABC, notifier: can.Notifier, addr: isotp.Address, bus_config: BusConfig,
               *, max_frame_size: int, timing: Timing | None = None) -> AddressedStack:
    """A stack reading through ``notifier`` (several stacks share one bus); not started yet."""
    return AddressedStack(bus, notifier, address=addr, read_timeout=RECV_POLL,
                          params=stack_params(bus_config, max_frame_size=max_frame_size, timing=timing))
