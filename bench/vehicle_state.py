"""What an update master and a flash bootloader check before an update: the vehicle's state as
the bus carries it (speed, gear, terminal state, battery), and the limits an update needs.

Both sides speak this one model: the rest-bus that sends the state, the virtual ECUs' "check
programming preconditions" routine, and the update master's own preconditions."""

from __future__ import annotations

from dataclasses import dataclass

GEARS = ("P", "R", "N", "D")
IGNITION = ("off", "acc", "on", "crank")  # terminal 15 off, accessory, on (run), cranking (terminal 50)


@dataclass(frozen=True)
class VehicleState:
    speed_kph: float = 0.0
    gear: str = "P"
    ignition: str = "on"
    battery_voltage: float = 12.6
    state_of_charge: float = 80.0  # percent of the low-voltage battery
    parking_brake: bool = True

    def __post_init__(self) -> None:
        if self.gear not in GEARS:
            raise ValueError(f"gear {self.gear!r} is not one of {', '.join(GEARS)}")
        if self.ignition not in IGNITION:
            raise ValueError(f"ignition {self.ignition!r} is not one of {', '.join(IGNITION)}")


@dataclass(frozen=True)
class UpdateConditions:
    """The state an update may run in; the defaults are a parked car with ignition on."""

    max_speed_kph: float = 0.0
    gears: tuple[str, ...] = ("P",)
    ignition: tuple[str, ...] = ("on",)
    min_battery_voltage: float = 11.5
    min_state_of_charge: float = 0.0
    parking_brake: bool = True

    def violations(self, state: VehicleState) -> list[str]:
        """Why ``state`` does not allow an update, one short reason per broken condition."""
        reasons = []
        if state.speed_kph > self.max_speed_kph:
            reasons.append(f"vehicle moving ({state.speed_kph:g} km/h > {self.max_speed_kph:g})")
        if state.gear not in self.gears:
            reasons.append(f"gear {state.gear} (needs {'/'.join(self.gears)})")
        if state.ignition not in self.ignition:
            reasons.append(f"ignition {state.ignition} (needs {'/'.join(self.ignition)})")
        if state.battery_voltage < self.min_battery_voltage:
            reasons.append(f"battery {state.battery_voltage:.1f} V < {self.min_battery_voltage:.1f} V")
        if state.state_of_charge < self.min_state_of_charge:
            reasons.append(f"state of charge {state.state_of_charge:g} % < {self.min_state_of_charge:g} %")
        if self.parking_brake and not state.parking_brake:
            reasons.append("parking brake released")
        return reasons
