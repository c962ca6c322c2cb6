"""A virtual power supply: what the virtual ECUs plugged into it see as terminal 30."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

PowerListener = Callable[[bool], None]


class VirtualSupply:
    """Switches its output and tells every attached ECU, synchronously, on each transition.

    ``off()`` returns only when every attached virtual ECU has lost power (its threads have
    stopped), so a test that cuts power knows the ECU is down when the call returns.
    """

    def __init__(self, name: str, *, nominal_voltage: float = 13.5) -> None:
        self.name = name
        self.nominal_voltage = nominal_voltage
        self._on = False
        self._listeners: list[PowerListener] = []
        self._lock = threading.RLock()

    def attach(self, listener: PowerListener) -> None:
        with self._lock:
            self._listeners.append(listener)
            if self._on:
                listener(True)

    def detach(self, listener: PowerListener) -> None:
        with self._lock:
            self._listeners.remove(listener)

    def on(self) -> None:
        self._switch(True)

    def off(self) -> None:
        self._switch(False)

    def cycle(self, off_for: float = 0.5) -> None:
        self.off()
        time.sleep(off_for)
        self.on()

    def is_on(self) -> bool:
        return self._on

    def measure_voltage(self) -> float:
        return self.nominal_voltage if self._on else 0.0

    def _switch(self, on: bool) -> None:
        with self._lock:
            if self._on == on:
                return
            self._on = on
            for listener in list(self._listeners):
                listener(on)
