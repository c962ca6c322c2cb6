"""How late a bench hop (a thread that takes a message on one side and sends it on the other) passed
messages on because the host did not give its thread the CPU (issue 17: host load is never an ECU
verdict).

The hops: the DoIP relay, the DoIP entity and its CAN routes, the CAN gateway (its frames wait from
their sending on the bench's virtual bus). A hop reads the clock once per message it passes on and
``HopLag.note``s how long the message waited in it; no lock, no logging per message. On TCP the wait counts from the kernel's receive timestamp
of the bytes (``SO_TIMESTAMPNS``, ``recv_stamped``), so the time the thread waited for the CPU
before it read the socket counts too.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterable

LATE_HOP = 0.1
"""Seconds a message may wait in a hop before it counts as late: the host did not give the hop's
thread the CPU."""
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
"""Linux's socket option for kernel receive timestamps (Python names it on some builds only)."""
_TIMESPEC = struct.Struct("qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)


class HopLag:
    """Messages ``hop`` passed on more than ``LATE_HOP`` after they reached it, and the worst wait
    (``what`` the hop passes on: "message", "frame")."""

    def __init__(self, hop: str, *, what: str = "message") -> None:
        self.hop, self.what = hop, what
        self.late = 0
        self.worst = 0.0
        self._holding: dict[int, float] = {}
        """Per thread of the hop (a connection, a direction), ``holding``."""

    @property
    def holding(self) -> float | None:
        """When (``time.time()``) the message this thread of the hop has in hand reached it, while
        nothing of the bench's means to hold it; None between messages: a hop stuck with one shows
        before it passes it on. Each thread sets and clears its own (two connections of one entity
        never clear each other's)."""
        return self._holding.get(threading.get_ident())

    @holding.setter
    def holding(self, since: float | None) -> None:
        if since is None:
            self._holding.pop(threading.get_ident(), None)
        else:
            self._holding[threading.get_ident()] = since

    def note(self, waited: float) -> None:
        """A message passed on ``waited`` seconds after it reached the hop."""
        if waited > LATE_HOP:
            self.late += 1  # threads may race here: a count off by one, never a late message unseen
            self.worst = max(self.worst, waited)

    def describe(self) -> str | None:
        """For ``Bench.host_overload``: None while no message was late."""
        holding = min(tuple(self._holding.values()), default=None)  # the longest a thread of it has held one
        held = 0.0 if holding is None else time.time() - holding
        found = [f"{self.late} {self.what}(s) passed on more than {LATE_HOP * 1000:.0f} ms after they arrived, "
                 f"the latest {self.worst * 1000:.0f} ms"] if self.late else []
        if held > LATE_HOP:
            found.append(f"a {self.what} in hand for {held * 1000:.0f} ms, not yet passed on")
        return f"{self.hop}: {'; '.join(found)}: its thread did not get the CPU" if found else None


def late_hops(lags: Iterable[HopLag]) -> list[str]:
    """``describe`` of each of ``lags`` that saw a late message (``Bench.host_overload``)."""
    return [text for lag in lags if (text := lag.describe()) is not None]


def stamp_arrivals(sock: socket.socket) -> None:
    """Ask the kernel to timestamp what ``sock`` receives (where it cannot, ``recv_stamped`` reads the clock)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)


def recv_stamped(sock: socket.socket, size: int) -> tuple[bytes, float]:
    """Up to ``size`` bytes of ``sock`` and when (``time.time()``) the last of them reached the host."""
    data, ancillary, _, _ = sock.recvmsg(size, _ANCILLARY)
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
            return data, seconds + nanoseconds / 1e9
    return data, time.time()
