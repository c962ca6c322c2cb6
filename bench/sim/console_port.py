"""The virtual ECU's debug UART: a pseudo-terminal the ECU writes its boot log to.

Like a real UART with nobody listening, output is lost when the reading side's buffer is full:
the ECU never blocks on its console.
"""

from __future__ import annotations

import os
import time
import tty


class ConsolePort:
    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # a UART carries bytes: no echo, no line editing
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        """Open this with any pyserial-based reader (``SerialConsole``)."""

    def write_line(self, text: str) -> None:
        line = f"[{time.monotonic():10.3f}] {text}\r\n".encode("utf-8", "replace")
        try:
            os.write(self._master, line)
        except (BlockingIOError, OSError):
            pass  # nobody reading, or buffer full: a UART drops the bytes

    def close(self) -> None:
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
