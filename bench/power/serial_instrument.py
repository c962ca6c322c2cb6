"""What every serial power instrument shares: its port, one exchange at a time, on/off/cycle."""

from __future__ import annotations

import threading
import time
from typing import Self

from bench.config.power_models import PowerConfig
from bench.errors import ConfigError
from bench.transport.serial_port import close_port, open_port


class SerialInstrument:
    """Base of the serial drivers: subclasses define ``_switch(on)``, ``is_on()`` and ``kind``."""

    kind = "instrument"

    def __init__(self, name: str, url: str, *, baudrate: int, timeout: float) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout
        self._lock = threading.Lock()
        """Held for each command/answer exchange: one conversation with the device at a time."""
        self._port = open_port(f"{self.kind} {name!r}", url, baudrate=baudrate, timeout=timeout)

    @staticmethod
    def port_of(name: str, config: PowerConfig) -> str:
        """The pyserial URL of a bench file's entry (required for serial drivers)."""
        if not config.url:
            raise ConfigError(f"driver {config.driver!r} of {name!r} needs url (a pyserial URL)", field="url")
        return config.url

    def _switch(self, on: bool) -> None:
        raise NotImplementedError

    def on(self) -> None:
        self._switch(True)

    def off(self) -> None:
        self._switch(False)

    def cycle(self, off_for: float = 0.5) -> None:
        """Off, wait ``off_for`` seconds, on (both transitions read back)."""
        self.off()
        time.sleep(off_for)
        self.on()

    def close(self) -> None:
        with self._lock:
            close_port(self._port)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
