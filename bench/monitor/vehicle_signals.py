"""The vehicle signals an update master and a flash bootloader check before an update, as the
bench's DBC carries them (``dbc/virtual_vehicle.dbc``: ``VCU_VehicleState``, ``VCU_BatteryState``),
and the conditions under which an update may run.

One vocabulary for every side: the rest-bus that sends the state (``bench.sim.restbus``), the
virtual ECUs' "check programming preconditions" routine, and the listener an update master
reads the bus with (``bench.monitor.vehicle_listener``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import cantools

from bench.config.vehicle_signals import VEHICLE_SIGNALS as SIGNALS
from bench.errors import ConfigError

Value = float | str
"""A physical value (km/h, V, %) or a value table's name (gear ``"P"``, ignition ``"on"``)."""


@dataclass(frozen=True)
class VehicleSignals:
    """The vehicle signals' messages and signals in a bench's DBC."""

    messages: dict[str, cantools.database.can.Message]
    """DBC message name -> message, for the messages ``SIGNALS`` names."""

    @classmethod
    def from_dbc(cls, database: cantools.database.Database) -> VehicleSignals:
        messages: dict[str, cantools.database.can.Message] = {}
        for name, (message_name, signal_name) in SIGNALS.items():
            try:
                message = messages.get(message_name) or database.get_message_by_name(message_name)
                message.get_signal_by_name(signal_name)
            except KeyError:
                raise ConfigError(f"the bench's DBC files have no signal {message_name}.{signal_name} "
                                  f"(vehicle signal {name!r}); add it as dbc/virtual_vehicle.dbc has it") from None
            messages[message_name] = message
        return cls(messages)

    def signal(self, name: str) -> cantools.database.can.Signal:
        message_name, signal_name = SIGNALS[name]
        return self.messages[message_name].get_signal_by_name(signal_name)

    def initial_values(self) -> dict[str, Value]:
        """Every signal at the DBC's start value (``GenSigStartValue``; raw 0 when it has none)."""
        values: dict[str, Value] = {}
        for name in SIGNALS:
            signal = self.signal(name)
            raw = signal.raw_initial or 0
            values[name] = str(signal.choices[raw]) if signal.choices else float(signal.conversion.raw_to_scaled(raw))
        return values

    @cached_property
    def _by_frame_id(self) -> dict[int, cantools.database.can.Message]:
        return {message.frame_id: message for message in self.messages.values()}

    def message_of(self, frame_id: int) -> cantools.database.can.Message | None:
        """The vehicle message sent with ``frame_id``: asked for every frame a listener hears (the
        ISO-TP frames of a flash too), so a dictionary's look-up."""
        return self._by_frame_id.get(frame_id)


@dataclass(frozen=True)
class Violation:
    """One broken update condition: its kind (``MOVING``, ``NOT_PARKED``, ``IGNITION``,
    ``LOW_BATTERY``) and the reason in words."""

    kind: str
    text: str

    def __str__(self) -> str:
        return self.text


MOVING, NOT_PARKED, IGNITION, LOW_BATTERY = "moving", "not parked", "ignition", "low battery"


@dataclass(frozen=True)
class UpdateConditions:
    """The vehicle state an update may run in; the defaults are a parked car with ignition on
    and a charged battery."""

    max_speed: float = 0.0
    gears: tuple[str, ...] = ("P",)
    ignition: tuple[str, ...] = ("on",)
    parking_brake: bool = True
    """The parking brake must be applied."""
    min_battery_voltage: float = 11.5
    min_state_of_charge: float = 0.0

    def violations(self, state: Mapping[str, Value]) -> list[Violation]:
        """Why ``state`` does not allow an update, one reason per broken condition; a signal
        missing from ``state`` (never received) is not judged here."""
        reasons: list[Violation] = []
        speed, gear, ignition = state.get("speed"), state.get("gear"), state.get("ignition")
        if speed is not None and float(speed) > self.max_speed:
            reasons.append(Violation(MOVING, f"vehicle moving: speed {float(speed):g} km/h > {self.max_speed:g}"))
        if gear is not None and gear not in self.gears:
            reasons.append(Violation(NOT_PARKED, f"not parked: gear {gear} (needs {'/'.join(self.gears)})"))
        if self.parking_brake and state.get("parking_brake") == "released":
            reasons.append(Violation(NOT_PARKED, "not parked: parking brake released"))
        if ignition is not None and ignition not in self.ignition:
            reasons.append(Violation(IGNITION, f"ignition {ignition} (needs {'/'.join(self.ignition)})"))
        volts, charge = state.get("battery_voltage"), state.get("state_of_charge")
        if volts is not None and float(volts) < self.min_battery_voltage:
            reasons.append(Violation(LOW_BATTERY,
                                     f"low battery: {float(volts):.2f} V < {self.min_battery_voltage:g} V"))
        if charge is not None and float(charge) < self.min_state_of_charge:
            reasons.append(Violation(LOW_BATTERY, f"low battery: state of charge {float(charge):g} % "
                                                  f"< {self.min_state_of_charge:g} %"))
        return reasons
