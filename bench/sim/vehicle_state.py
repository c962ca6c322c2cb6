"""The vehicle state a test sets and the rest-bus sends: speed, gear, ignition, parking brake,
battery voltage and state of charge (``bench.monitor.vehicle_signals``), thread-safe.

``vehicle.speed = 3.0`` checks the value against the DBC (a value table's names, a signal's
range) and tells the listeners (the rest-bus sends the message at once); every change is kept
with its time, for the test's evidence."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bench.errors import UsageError
from bench.monitor.vehicle_signals import SIGNALS, Value, VehicleSignals


class VehicleState:
    def __init__(self, signals: VehicleSignals) -> None:
        object.__setattr__(self, "signals", signals)
        object.__setattr__(self, "_lock", threading.Lock())
        object.__setattr__(self, "_values", signals.initial_values())
        object.__setattr__(self, "listeners", [])
        object.__setattr__(self, "changes", [])

    signals: VehicleSignals
    """The DBC's vehicle messages and signals."""
    listeners: list[Callable[[str], None]]
    """Told the DBC message name of a signal that was set (after the value changed)."""
    changes: list[tuple[float, str, Value]]
    """(epoch seconds, signal, value) of every value set, in order."""

    def __getattr__(self, name: str) -> Value:
        if name in SIGNALS:
            with self._lock:
                return self._values[name]
        raise AttributeError(f"no vehicle signal {name!r}; the vehicle has: {', '.join(SIGNALS)}")

    def __setattr__(self, name: str, value: Value) -> None:
        self.set(name, value)

    def set(self, name: str, value: Value) -> None:
        """Set one signal (``UsageError`` naming the signal and what it allows when it cannot be)."""
        value = self._checked(name, value)
        with self._lock:
            self._values[name] = value
            self.changes.append((time.time(), name, value))
        for listener in list(self.listeners):
            listener(SIGNALS[name][0])

    def values(self) -> dict[str, Value]:
        with self._lock:
            return dict(self._values)

    def message_values(self, message_name: str) -> dict[str, Value]:
        """The DBC signals of ``message_name`` with their current values, ready to encode."""
        with self._lock:
            return {signal: self._values[name] for name, (message, signal) in SIGNALS.items()
                    if message == message_name}

    def describe_changes(self) -> str:
        """One line per value set, for the evidence: ``12:03:04.120 speed = 3.0``."""
        return "\n".join(f"{time.strftime('%H:%M:%S', time.localtime(at))}.{int(at % 1 * 1000):03d} "
                         f"{name} = {value}" for at, name, value in list(self.changes))

    def _checked(self, name: str, value: Value) -> Value:
        if name not in SIGNALS:
            raise UsageError(f"no vehicle signal {name!r}; the vehicle has: {', '.join(SIGNALS)}")
        signal = self.signals.signal(name)
        if signal.choices:
            allowed = [str(signal.choices[raw]) for raw in sorted(signal.choices)]
            if value not in allowed:
                raise UsageError(f"vehicle.{name} = {value!r}: not a value of {signal.name}; "
                                 f"allowed: {', '.join(allowed)}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"vehicle.{name} = {value!r}: {signal.name} takes a number "
                             f"({signal.minimum:g}..{signal.maximum:g} {signal.unit or ''})")
        if not signal.minimum <= value <= signal.maximum:
            raise UsageError(f"vehicle.{name} = {value!r}: outside {signal.name}'s range "
                             f"{signal.minimum:g}..{signal.maximum:g} {signal.unit or ''}".rstrip())
        return float(value)
