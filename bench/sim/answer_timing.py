"""When a virtual ECU received each request and answered it: answers the host made late.

A virtual ECU shares the host's CPU with the tester, the gateway and whatever else runs there.
On an overloaded host its threads may wait so long for the CPU that an answer the model meant
to give in time reaches the tester after P2client: the tester then judges an ECU that did
nothing wrong. ``AnswerClock`` tells the two causes apart, answer by answer:

* the request counts from its last frame's arrival at the ECU's stack (on the bench's virtual
  bus that is the moment the tester, or the gateway, sent it), or, if it came while the model
  was still serving the one before, from that one's final answer;
* the model says when it meant to answer: a reference ECU answers at once or sends a response
  pending (0x78) after half of its P2server_max, then every half P2*server_max; a model that
  delays on purpose (a mutant answering after P2) says so with ``intend``;
* an answer (0x78 or final) that leaves the model after the tester's deadline (P2 or P2*, plus
  ΔP2, of the ECU's profile) although the model meant it within the deadline is a
  ``LateAnswer``: the host's fault, a bench fault, never the ECU's.

The answer counts when its first frame goes on the bus (``EcuStack.answer_sent``), so a
starved ISO-TP thread of the ECU counts as the host's too.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from udsoncan import services

_NAMES = {cls._sid: cls.__name__ for cls in services.__dict__.values()  # noqa: SLF001 - udsoncan's own table
          if isinstance(cls, type) and hasattr(cls, "_sid")}
PENDING = 0x78


@dataclass(frozen=True)
class LateAnswer:
    """An answer the host, not the ECU's model, made miss the tester's deadline."""

    ecu: str
    service: int
    waited: float
    """Seconds from the request's last frame (or the previous 0x78) to the answer."""
    meant: float
    """Seconds the ECU's model meant to take."""
    deadline: float
    """Seconds the tester waits (P2 or P2*, plus ΔP2, of the ECU's profile)."""
    pending: bool
    """The late answer was a response pending (0x78)."""

    def describe(self) -> str:
        what = "response pending (0x78)" if self.pending else "answer"
        return (f"virtual ECU {self.ecu} gave its {what} to {_NAMES.get(self.service, f'service 0x{self.service:02X}')} "
                f"{self.waited * 1000:.0f} ms after the request, meaning to give it within {self.meant * 1000:.0f} ms; "
                f"the tester waits {self.deadline * 1000:.0f} ms: the simulator did not get the CPU")


class AnswerClock:
    """One power-on's answer times; ``late`` receives every ``LateAnswer``.

    The model calls ``request`` when it takes a request, ``intend`` for a deliberate delay and
    ``handed`` with each answer it gives its stack; the stack calls ``answered`` when that
    answer's first frame goes on the bus, which is when it is judged (answers leave in order)."""

    def __init__(self, ecu: str, *, first_within: float, pending_every: float, deadline: float,
                 deadline_after_pending: float, late: Callable[[LateAnswer], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ecu = ecu
        self._first_within, self._pending_every = first_within, pending_every
        self._deadlines = (deadline, deadline_after_pending)
        self._late, self._clock = late, clock
        self._lock = threading.Lock()
        self._service: int | None = None
        self._since = self._meant = 0.0
        self._after_pending = False
        self._free_since = 0.0
        """When the model gave its last final answer: a request that came before waited its turn."""
        self._in_flight: deque[tuple[int, float, float, float, bool]] = deque()
        """Answers handed to the stack, not yet on the bus: service, since, meant, deadline, pending."""

    def request(self, service: int, received_at: float) -> None:
        """The model takes a request whose last frame arrived at ``received_at`` (``clock`` time)."""
        with self._lock:
            self._service, self._meant, self._after_pending = service, self._first_within, False
            self._since = max(received_at, self._free_since)

    def intend(self, seconds: float) -> None:
        """The model means its next answer to this request to come ``seconds`` after the request."""
        with self._lock:
            self._meant = max(self._meant, seconds)

    def handed(self, payload: bytes) -> None:
        """The model gives its stack an answer to the open request; a 0x78 keeps it open."""
        now = self._clock()
        with self._lock:
            if self._service is None:
                return  # no request open: an answer after a power-on, or a periodic message
            pending = len(payload) >= 3 and payload[0] == 0x7F and payload[2] == PENDING
            self._in_flight.append((self._service, self._since, self._meant, self._deadlines[self._after_pending],
                                    pending))
            if pending:
                self._since, self._meant, self._after_pending = now, self._pending_every, True
            else:
                self._service, self._free_since = None, now

    def answered(self) -> None:
        """The first frame of the oldest answer handed over goes on the bus: judge it."""
        now = self._clock()
        with self._lock:
            if not self._in_flight:
                return
            service, since, meant, deadline, pending = self._in_flight.popleft()
        waited = now - since
        if waited > deadline and meant <= deadline:
            self._late(LateAnswer(self._ecu, service, waited, meant, deadline, pending))
