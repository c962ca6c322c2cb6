"""The virtual ECU's side of ISO 15765-2: can-isotp stacks that receive as ISO says a server does.

can-isotp does the protocol; these stacks decide, frame by frame and before can-isotp sees a
frame, what an ECU must not process (ISO 15765-2:2016):

* on the functional address only single frames: a functional request is never segmented, so
  a first frame there gets no flow control and is not processed (9.6.1, 10.3.3);
* a first frame whose FF_DL would have fitted a single frame (FF_DL < 8 on classic CAN; on CAN
  FD below RX_DL - 1), or an escape-sequence first frame with FF_DL <= 4095, is ignored (9.6.3);
* a CAN FD frame on a classic CAN bus is not a frame of this network and is ignored;
* a flow control with a reserved STmin (0x80-0xF0, 0xFA-0xFF) is used as STmin 0x7F, 127 ms
  (9.6.5.4), where can-isotp would drop the flow control and abort its transmission.

The hook is can-isotp's notifier callback ``_on_message_received`` (as for
``bench.transport.isotp_link.AddressedStack``); ``tests/test_isotp_server.py`` fails if the
library stops calling it.

What goes wrong in reception is logged once per kind and message (``EcuStack.isotp_error``): the
library warns for every frame it ignores, and when the power or the cable comes back in the middle
of a download, that is every remaining consecutive frame of the message (a thousand log records in
one scenario, each formatted by every log capture, for one event).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import can
import isotp

from bench.config.models import BusConfig, Timing
from bench.transport.can_bus import RECV_POLL
from bench.transport.isotp_link import AddressedStack, stack_params

log = logging.getLogger(__name__)
ISOTP_LOGGER = f"{__name__}.can_isotp"
"""can-isotp's own logger for the virtual ECUs' stacks, quiet below ERROR: ``EcuStack.isotp_error``
reports what it would have warned about."""
logging.getLogger(ISOTP_LOGGER).setLevel(logging.ERROR)

SINGLE_FRAME, FIRST_FRAME, CONSECUTIVE_FRAME, FLOW_CONTROL = 0x0, 0x1, 0x2, 0x3
LONGEST_STMIN = 0x7F
"""127 ms: what a sender uses for a reserved STmin."""


def reserved_stmin(value: int) -> bool:
    return 0x80 <= value <= 0xF0 or 0xFA <= value <= 0xFF


def admit(msg: can.Message, *, functional: bool, fd_bus: bool, prefix: int = 0) -> can.Message | None:
    """The frame as the ECU's stack should see it, or None when ISO 15765-2 says ignore it.

    Called for every frame of the ECU's address: consecutive frames, nearly all of a download,
    leave after three checks, without a copy."""
    if msg.is_fd and not fd_bus:
        return None
    data = msg.data
    if len(data) <= prefix:
        return msg  # can-isotp reports the malformed frame itself
    kind = data[prefix] >> 4
    if kind == SINGLE_FRAME:
        return msg
    if functional:
        return None
    if kind == FIRST_FRAME and len(data) >= prefix + 2:
        ff_dl = (data[prefix] & 0x0F) << 8 | data[prefix + 1]
        if ff_dl == 0:  # escape sequence: a 32-bit FF_DL, only for messages longer than 4095 bytes
            if len(data) >= prefix + 6 and int.from_bytes(data[prefix + 2:prefix + 6], "big") <= 0xFFF:
                return None
        else:
            rx_dl = max(8, len(data))
            shortest = 8 - prefix if rx_dl == 8 else rx_dl - 1 - prefix
            if ff_dl < shortest:
                return None
    elif kind == FLOW_CONTROL and len(data) >= prefix + 3 and reserved_stmin(data[prefix + 2]):
        fixed = bytearray(data)
        fixed[prefix + 2] = LONGEST_STMIN
        return can.Message(arbitration_id=msg.arbitration_id, data=fixed, is_extended_id=msg.is_extended_id,
                           is_fd=msg.is_fd, bitrate_switch=msg.bitrate_switch, timestamp=msg.timestamp,
                           channel=msg.channel)
    return msg


def admitted(msgs: list[can.Message], *, functional: bool, fd_bus: bool, prefix: int = 0) -> list[can.Message]:
    """``admit`` of each frame, in order, those it keeps. A physical stack keeps a consecutive frame
    of its bus's kind as it is (nearly every frame of a download): kept here without the call."""
    kept: list[can.Message] = []
    keep = kept.append
    for msg in msgs:
        data = msg.data
        if not functional and len(data) > prefix and data[prefix] >> 4 == CONSECUTIVE_FRAME \
                and (fd_bus or not msg.is_fd):
            keep(msg)
        elif (taken := admit(msg, functional=functional, fd_bus=fd_bus, prefix=prefix)) is not None:
            keep(taken)
    return kept


def starts_message(data: bytes, prefix: int = 0) -> bool:
    """A single or first frame: the start of a message."""
    return len(data) > prefix and data[prefix] >> 4 in (SINGLE_FRAME, FIRST_FRAME)


class EcuStack(AddressedStack):
    """A stack of the ECU: frames pass ``admit`` before can-isotp processes them; ``answer_sent``
    is called when the first frame of each message the stack sends goes on the bus."""

    def __init__(self, *args: object, functional: bool, fd_bus: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._functional = functional
        self._fd_bus = fd_bus
        self._rx_prefix = self.address.get_rx_prefix_size()
        self.answer_sent: Callable[[], None] | None = None
        self.error_handler = self.isotp_error
        self._reported: set[tuple[type, float]] = set()
        kind = "functional" if functional else "physical"
        self._label = f"virtual ECU, {kind} address 0x{self.address.get_rx_arbitration_id():X}"
        transmit = self.txfn  # can-isotp's frame sender (tests/test_library_internals.py)

        def transmit_and_tell(frame: isotp.CanMessage) -> None:
            transmit(frame)
            if self.answer_sent is not None and starts_message(frame.data, len(self.address.get_tx_payload_prefix())):
                self.answer_sent()

        self.txfn = transmit_and_tell

    def isotp_error(self, error: Exception) -> None:
        """Log a reception or transmission error of can-isotp once per kind and message: the
        first frame ignored while idle says so, the next ones of the same message do not."""
        key = (type(error), self.last_message_at)
        if key in self._reported:
            return
        if len(self._reported) > 64:
            self._reported.clear()
        self._reported.add(key)
        repeats = isinstance(error, isotp.errors.UnexpectedConsecutiveFrameError)
        log.warning("%s: %s%s", self._label, error,
                    " (the next ones before a new message are not logged)" if repeats else "")

    def take_frames(self, msgs: list[can.Message]) -> None:
        super().take_frames(admitted(msgs, functional=self._functional, fd_bus=self._fd_bus, prefix=self._rx_prefix))

    def _on_message_received(self, msg: can.Message) -> None:
        if not self.address.is_for_me(msg):  # type: ignore[arg-type]
            return
        admitted = admit(msg, functional=self._functional, fd_bus=self._fd_bus, prefix=self._rx_prefix)
        if admitted is not None:
            self._take(admitted)


def make_ecu_stack(bus: can.BusABC, notifier: can.Notifier, addr: isotp.Address, bus_config: BusConfig, *,
                   functional: bool, max_frame_size: int, timing: Timing | None = None) -> EcuStack:
    """The ECU's physical or functional stack, reading through ``notifier``; not started yet."""
    return EcuStack(bus, notifier, address=addr, read_timeout=RECV_POLL, functional=functional,
                    fd_bus=bus_config.fd,
                    params={**stack_params(bus_config, max_frame_size=max_frame_size, timing=timing),
                            "logger_name": ISOTP_LOGGER})
