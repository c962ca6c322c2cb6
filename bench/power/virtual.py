"""A virtual power supply: what the virtual ECUs plugged into it see as terminal 30."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bench.config.power_models import PowerConfig

NOMINAL_VOLTAGE = 13.5
"""A 12 V vehicle battery with the alternator charging."""

VoltageListener = Callable[[float], None]
"""Told the output voltage at every change (0.0 when the output is off)."""


class VirtualSupply:
    """Switches its output and sets its voltage; tells every attached ECU synchronously.

    ``off()`` (and a dip below an ECU's brown-out threshold) returns only when every attached
    virtual ECU has lost power (its threads have stopped), so a test that cuts power knows the
    ECU is down when the call returns.
    """

    def __init__(self, name: str, *, nominal_voltage: float = NOMINAL_VOLTAGE) -> None:
        self.name = name
        self.nominal_voltage = nominal_voltage
        self._setpoint = nominal_voltage
        self._on = False
        self._listeners: list[VoltageListener] = []
        self._lock = threading.RLock()

    @classmethod
    def from_config(cls, name: str, config: PowerConfig) -> VirtualSupply:
        return cls(name, nominal_voltage=config.nominal_voltage)

    def attach(self, listener: VoltageListener) -> None:
        with self._lock:
            self._listeners.append(listener)
            listener(self.measure_voltage())

    def on(self) -> None:
        self._change(on=True)

    def off(self) -> None:
        self._change(on=False)

    def cycle(self, off_for: float = 0.5) -> None:
        self.off()
        time.sleep(off_for)
        self.on()

    def is_on(self) -> bool:
        return self._on

    def set_voltage(self, volts: float) -> None:
        if volts < 0:
            raise ValueError(f"supply {self.name}: negative voltage {volts}")
        self._change(setpoint=volts)

    def measure_voltage(self) -> float:
        return self._setpoint if self._on else 0.0

    def _change(self, *, on: bool | None = None, setpoint: float | None = None) -> None:
        with self._lock:
            before = self.measure_voltage()
            if on is not None:
                self._on = on
            if setpoint is not None:
                self._setpoint = setpoint
            after = self.measure_voltage()
            if after != before:
                for listener in list(self._listeners):
                    listener(after)
