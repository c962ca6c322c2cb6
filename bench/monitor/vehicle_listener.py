"""The vehicle state as a node on the bus hears it: a python-can listener that decodes the
vehicle messages with cantools and keeps the latest value of each signal.

A virtual ECU's bootloader judges its "check programming preconditions" routine from one; an
update master asks one ``why_not_safe()`` before and during a campaign. A message not heard for
``STALE_AFTER`` of its cycle times (or ever) counts as unknown: the master treats unknown as not
safe, the bootloader leaves it unjudged (it may have just been powered on)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import can

from bench.monitor.vehicle_signals import SIGNALS, UpdateConditions, Value, VehicleSignals, Violation

STALE_AFTER = 5
"""Cycle times without a message after which its signals are unknown."""
MIN_STALE_SECONDS = 1.0
"""...but never less than this: a loaded host may hold the rest-bus back for a while."""


class VehicleListener(can.Listener):
    def __init__(self, signals: VehicleSignals, conditions: UpdateConditions | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.signals = signals
        self.conditions = conditions or UpdateConditions()
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, Value] = {}
        self._heard: dict[str, float] = {}
        """DBC message name -> when it was last decoded."""

    def frame_keys(self) -> set[tuple[int, bool]]:
        """The (CAN id, 29-bit) of the vehicle messages: a notifier that routes frames
        (``DirectNotifier``) hands this listener only those, not every frame of a flash."""
        return {(message.frame_id, message.is_extended_frame) for message in self.signals.messages.values()}

    def on_message_received(self, msg: can.Message) -> None:
        message = self.signals.message_of(msg.arbitration_id)
        if message is None or message.is_extended_frame != msg.is_extended_id or msg.is_error_frame \
                or msg.is_remote_frame:
            return
        try:
            decoded = message.decode(bytes(msg.data))
        except Exception:  # noqa: BLE001 - cantools raises several kinds; a malformed frame is not a state
            return
        with self._lock:
            self._heard[message.name] = self._clock()
            for name, (message_name, signal_name) in SIGNALS.items():
                if message_name == message.name and signal_name in decoded:
                    value = decoded[signal_name]
                    self._values[name] = value if isinstance(value, int | float) else str(value)

    def state(self) -> dict[str, Value]:
        """The latest value of every signal heard recently enough (``STALE_AFTER``)."""
        now = self._clock()
        with self._lock:
            fresh = {name for name, at in self._heard.items() if now - at <= self._stale_after(name)}
            return {name: value for name, value in self._values.items() if SIGNALS[name][0] in fresh}

    def violations(self) -> list[Violation]:
        """What the state heard breaks of the update conditions; unknown signals are not judged."""
        return self.conditions.violations(self.state())

    def why_not_safe(self) -> str | None:
        """Why an update must not run now (``"vehicle moving: speed 3 km/h > 0; ..."``), or None
        when it may; a vehicle message not heard (recently) is a reason of its own."""
        state = self.state()
        missing = sorted({message for name, (message, _) in SIGNALS.items() if name not in state})
        reasons = [f"vehicle state unknown: no {name} frame heard" for name in missing]
        reasons += [str(violation) for violation in self.conditions.violations(state)]
        return "; ".join(reasons) or None

    def _stale_after(self, message_name: str) -> float:
        cycle = (self.signals.messages[message_name].cycle_time or 0) / 1000
        return max(STALE_AFTER * cycle, MIN_STALE_SECONDS)
