"""An ECU's serial console: logged byte for byte, searched with ``expect``, pulled on demand.

Models the debug UART every ECU has (bootloader banners, application logs), reached through
a USB-serial adapter (``/dev/ttyUSB0``), a terminal server (``socket://host:port``, ``rfc2217://``)
or a virtual ECU's pty — any pyserial URL. A reader thread writes everything to ``log_path``
as it arrives (nothing is lost when a test crashes) and into memory for ``expect``.

``expect`` failing is a finding about the ECU (it did not print what it should have):
``ConsoleTimeout``, an ``AssertionError``. A port that cannot be opened or that vanishes is a
broken bench: ``BenchFault``.
"""

from __future__ import annotations

import codecs
import re
import threading
import time
from pathlib import Path
from typing import Self

import serial

from bench.errors import BenchFault
from bench.transport.serial_port import close_port, open_port

DISCONNECTED = "[bench] console disconnected"
RECONNECTED = "[bench] console reconnected"
TAIL_LINES = 20
POLL = 0.02
"""Seconds the reader blocks per read on a port that cannot cancel a read (``socket://``,
``rfc2217://``): bounds how long ``disconnect()`` and ``close()`` take there."""
READ_WAIT = 1.0
"""Seconds the reader blocks per read on a port whose read ``disconnect()`` and ``close()``
cancel (pyserial's ``cancel_read``: a device or a pty): it wakes for data, not to poll."""
_KEEP = 1 << 20  # consumed text kept in memory (for the tail in messages)


class ConsoleTimeout(AssertionError):
    """The ECU did not print what ``expect`` waited for: a finding about the ECU."""


class SerialConsole:
    """The console of one ECU, read from ``url`` until ``close()``."""

    def __init__(self, name: str, url: str, *, baudrate: int = 115_200, log_path: Path) -> None:
        self.name = name
        self.url = url
        self.baudrate = baudrate
        self.log_path = Path(log_path)
        self._cond = threading.Condition()
        self._text = ""
        self._cursor = 0
        self._fault: str | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._log_lock = threading.Lock()
        self._lifecycle = threading.Lock()
        """Held by reconnect() and close(): a reconnect a fault's timer runs as the bench closes
        either finishes before the close or finds the console closed and does nothing."""
        self._closed = False
        self._log_ends_line = True
        self._port: serial.SerialBase | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        port = self._open_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._start(port)

    @property
    def connected(self) -> bool:
        """Reading: not disconnected, closed or lost."""
        return self._reader is not None and self._reader.is_alive()

    @property
    def text(self) -> str:
        """Everything received, decoded (in memory only the last MiB or more of consumed text is kept)."""
        with self._cond:
            return self._text

    def expect(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str]:
        """Wait up to ``timeout`` s for ``pattern`` in the text received since the last
        successful ``expect`` (match positions are relative to that point); consume up to the
        end of the match. ``ConsoleTimeout`` with the console's last lines if it never comes."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                match = regex.search(self._text[self._cursor:])
                if match:
                    self._consume(match.end())
                    return match
                if self._fault is not None:
                    raise BenchFault(f"serial console {self.name!r} on {self.url} was lost: {self._fault}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConsoleTimeout(self._timeout_message(regex, timeout))
                self._cond.wait(remaining)

    def write(self, data: str | bytes) -> None:
        """Send to the ECU (a shell command, a key press to stop autoboot)."""
        port = self._port
        if port is None:
            raise BenchFault(f"serial console {self.name!r} on {self.url} is disconnected")
        try:
            port.write(data.encode() if isinstance(data, str) else data)
        except (serial.SerialException, OSError) as exc:
            raise BenchFault(f"serial console {self.name!r} on {self.url}: write failed: {exc}") from exc

    def disconnect(self) -> None:
        """The "serial console disconnect" fault: close the port; nothing is read until ``reconnect()``."""
        if self._stop_reading():
            self._mark(DISCONNECTED)

    def reconnect(self) -> None:
        """Reopen the port and read again, also after it was lost (``BenchFault`` if it cannot be opened).
        Once the console is closed, nothing."""
        with self._lifecycle:
            if not self.connected and not self._closed:
                self._stop_reading()
                port = self._open_port()
                self._mark(RECONNECTED)
                self._start(port)

    def close(self) -> None:
        """Stop reading, close the port and the log. Idempotent."""
        with self._lifecycle:
            self._closed = True
            self._stop_reading()
            with self._log_lock:
                self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------

    def _open_port(self) -> serial.SerialBase:
        port = open_port(f"serial console {self.name!r}", self.url, baudrate=self.baudrate, timeout=POLL)
        if _cancellable(port):
            port.timeout = READ_WAIT
        return port

    def _start(self, port: serial.SerialBase) -> None:
        self._port, self._stop, self._fault = port, threading.Event(), None
        self._decoder.reset()
        self._reader = threading.Thread(target=self._read, args=(port, self._stop),
                                        name=f"console-{self.name}", daemon=True)
        self._reader.start()

    def _stop_reading(self) -> bool:
        port, reader = self._port, self._reader
        if port is None or reader is None:
            return False
        self._stop.set()
        if _cancellable(port):
            port.cancel_read()
        reader.join()
        close_port(port)
        self._port = self._reader = None
        return True

    def _read(self, port: serial.SerialBase, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                data = port.read(port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                self._mark(f"[bench] console lost: {exc}")
                with self._cond:
                    self._fault = str(exc)
                    self._cond.notify_all()
                return
            if data:
                self._received(data)

    def _received(self, data: bytes) -> None:
        with self._log_lock:
            self._log.write(data)
            self._log.flush()
            self._log_ends_line = data.endswith(b"\n")
        text = self._decoder.decode(data)
        with self._cond:
            self._text += text
            self._cond.notify_all()

    def _mark(self, line: str) -> None:
        with self._log_lock:
            self._log.write((b"" if self._log_ends_line else b"\n") + line.encode() + b"\n")
            self._log.flush()
            self._log_ends_line = True

    def _consume(self, length: int) -> None:
        self._cursor += length
        if self._cursor > 2 * _KEEP:
            drop = self._cursor - _KEEP
            self._text, self._cursor = self._text[drop:], self._cursor - drop

    def _timeout_message(self, regex: re.Pattern[str], timeout: float) -> str:
        tail = self._text[-64 * 1024:].splitlines()[-TAIL_LINES:]
        state = "" if self.connected else " (the console was disconnected)"
        shown = "\n".join(f"  | {line}" for line in tail) if tail else "  (nothing received)"
        return (f"ECU console {self.name!r} ({self.url}) did not print {regex.pattern!r} within "
                f"{timeout} s{state}; last {len(tail)} lines:\n{shown}")


def _cancellable(port: serial.SerialBase) -> bool:
    """Whether another thread can end a read of ``port`` waiting for data (``cancel_read``)."""
    return callable(getattr(port, "cancel_read", None))
