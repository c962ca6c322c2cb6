"""pyserial ports (any URL: /dev/ttyUSB0, socket://, rfc2217://, a pty path) for the bench."""

from __future__ import annotations

import serial

from bench.errors import BenchFault


def open_port(what: str, url: str, *, baudrate: int, timeout: float) -> serial.SerialBase:
    """Open ``url``; a port that cannot be opened is a fault of the bench naming ``what`` and the URL."""
    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, write_timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise BenchFault(f"{what}: cannot open {url}: {exc}") from exc


def close_port(port: serial.SerialBase) -> None:
    """Close a pyserial port, also the socket of a ``socket://`` port whose peer reset it
    (pyserial 3.5 skips the close when its shutdown fails)."""
    sock = getattr(port, "_socket", None)
    port.close()
    if sock is not None:
        sock.close()
