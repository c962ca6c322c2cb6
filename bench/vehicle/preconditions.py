"""The vehicle state an update master checks before and during a campaign, and the small
protocol it reads it through (the rest-bus on a bench, the vehicle's own signals in a car)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bench.vehicle.manifest import Energy, Preconditions


@dataclass(frozen=True)
class VehicleState:
    speed: float
    """km/h"""
    gear: str
    ignition: str
    parking_brake: bool
    battery_voltage: float
    """V"""
    available_energy_wh: float
    """What the battery can still give (state of charge times capacity)."""


class VehicleStateUnknown(Exception):
    """The vehicle's state cannot be read now (a signal not heard): not safe to update."""


class VehicleConditions(Protocol):
    """Where the master reads the vehicle's state from; ``read`` raises ``VehicleStateUnknown``
    when it cannot tell (``bench.vehicle.bus_conditions``: a signal not heard on the bus)."""

    def read(self) -> VehicleState: ...


def unmet(preconditions: Preconditions, energy: Energy, state: VehicleState) -> list[str]:
    """Every precondition ``state`` breaks, in words; empty when the vehicle may be updated."""
    found = []
    if state.speed > preconditions.max_speed:
        found.append(f"speed {state.speed:g} km/h above {preconditions.max_speed:g}")
    if state.gear not in preconditions.gears:
        found.append(f"gear {state.gear} not in {', '.join(preconditions.gears)}")
    if state.ignition not in preconditions.ignition:
        found.append(f"ignition {state.ignition} not in {', '.join(preconditions.ignition)}")
    if preconditions.parking_brake and not state.parking_brake:
        found.append("parking brake released")
    if state.battery_voltage < preconditions.min_battery_voltage:
        found.append(f"battery {state.battery_voltage:g} V below {preconditions.min_battery_voltage:g} V")
    needed = energy.update_wh + energy.recovery_wh
    if state.available_energy_wh < needed:
        found.append(f"battery holds {state.available_energy_wh:g} Wh, the update and a recovery need {needed:g} Wh")
    return found
