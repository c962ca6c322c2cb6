"""Response pending (NRC 0x78): keep the tester waiting while a long request runs.

The first 0x78 goes out when half of P2server has passed, then one every half P2*server, until
the final response; a lock guarantees no 0x78 is sent after the final response. Once a 0x78
has gone out the final response is mandatory (ISO 14229-1, 7.5): a response the request's
suppressPosRspMsgIndicationBit (or functional addressing) withheld is then sent all the same.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from udsoncan.ResponseCode import ResponseCode


class ResponsePending:
    def __init__(self, send: Callable[[bytes], None], *, first_after: float, every: float) -> None:
        self._send = send
        self._first_after = first_after
        self._every = every
        self._cond = threading.Condition()
        self._sid: int | None = None
        self._pending_sent = False
        """A 0x78 went out for the request being served."""
        self._due = 0.0
        self._wakes_at: float | None = None
        """When the watcher's wait ends by itself; None: it waits to be told. A request that
        begins later than that need not wake it: it looks again then."""
        self._closed = False
        self._thread = threading.Thread(target=self._watch, name="sim-0x78", daemon=True)
        self._thread.start()

    def begin(self, sid: int) -> None:
        with self._cond:
            self._sid = sid
            self._pending_sent = False
            self._due = time.monotonic() + self._first_after
            if self._wakes_at is None or self._wakes_at > self._due:
                self._cond.notify()

    def finish(self, response: bytes | None, withheld: bytes | None = None) -> bytes | None:
        """The request is served: send its response, or the withheld one if a 0x78 went out;
        return what was sent (None: nothing)."""
        with self._cond:
            self._sid = None
            final = response if response is not None or not self._pending_sent else withheld
            if final is not None:
                self._send(final)
            return final

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(1.0)

    def _watch(self) -> None:
        with self._cond:
            while not self._closed:
                if self._sid is None:
                    self._wakes_at = None
                    self._cond.wait()
                    continue
                remaining = self._due - time.monotonic()
                if remaining > 0:
                    self._wakes_at = self._due
                    self._cond.wait(remaining)
                    continue
                self._send(bytes([0x7F, self._sid, ResponseCode.RequestCorrectlyReceived_ResponsePending]))
                self._pending_sent = True
                self._due = time.monotonic() + self._every
