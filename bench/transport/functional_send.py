"""The tester's functional single frames, each known on the bus before the tester goes on, or lost.

can-isotp completes a single frame's send request before it hands the frame to the bus, so neither
its ``transmitting()`` nor the request's completion says the frame is there; the stack's frame
sender (``txfn``) does. A functional stack sends single frames only (can-isotp refuses longer
messages in ``send``), so the n-th single frame through its sender is the n-th message given to
``send``: each message waits on its own turn. Any other frame (a flow control the stack answers a
stray first frame on the functional id with) goes out as it is and takes no turn.

A message not on the bus within its time (ISO 15765-2 N_As) is lost, as the standard has it: when
the stack's thread comes to it later, its frame is dropped. A late frame can neither reach the ECUs
after the tester was told it was not sent, nor be taken for the next message on the bus.
"""

from __future__ import annotations

import threading
from collections import deque

import isotp


SINGLE_FRAME = 0x0
"""The high nibble of a single frame's first byte (after the address prefix)."""


class _Turn:
    """One message given to the stack: on the bus, or given up by its sender."""

    def __init__(self) -> None:
        self.on_bus = threading.Event()
        self.given_up = False


class FunctionalSender:
    """Sends ``stack``'s messages one at a time, each waiting until its own frame is on the bus.

    Takes over ``stack.txfn`` (a frame sender wrapped after this one still sees every frame); the
    stack must send nothing but what ``send`` gives it, and is not started again once stopped (a
    stop drops its queue).
    """

    def __init__(self, stack: isotp.TransportLayer) -> None:
        self._stack = stack
        self._one_at_a_time = threading.Lock()
        self._turns: deque[_Turn] = deque()
        """The messages given to the stack whose frame has not reached its sender, oldest first."""
        self._frame_or_give_up = threading.Lock()
        """A frame goes out, or its sender gives it up, never both."""
        transmit = stack.txfn  # can-isotp's frame sender (tests/test_library_internals.py)
        prefix = len(stack.address.get_tx_payload_prefix())

        def transmit_in_turn(frame: isotp.CanMessage) -> None:
            if len(frame.data) <= prefix or frame.data[prefix] >> 4 != SINGLE_FRAME:
                transmit(frame)
                return
            with self._frame_or_give_up:
                turn = self._turns.popleft()
                if turn.given_up:
                    return
                transmit(frame)
                turn.on_bus.set()

        stack.txfn = transmit_in_turn

    def send(self, payload: bytes, within: float) -> bool:
        """``payload`` in one single frame, on the bus when this returns True; False: not within
        ``within`` seconds, and it never will be."""
        if not payload:
            raise ValueError("a functional message has at least a service identifier")
        with self._one_at_a_time:
            turn = _Turn()
            self._turns.append(turn)
            try:
                self._stack.send(payload)
            except BaseException:  # nothing queued: no frame will take this turn
                with self._frame_or_give_up:
                    self._turns.remove(turn)
                raise
            if turn.on_bus.wait(within):
                return True
            with self._frame_or_give_up:
                turn.given_up = not turn.on_bus.is_set()
            return not turn.given_up
