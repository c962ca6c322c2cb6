"""Which DBC message and signal carries each vehicle signal a test sets and a bootloader or an
update master checks (``dbc/virtual_vehicle.dbc``); the loader checks a bench with a
``restbus:`` has them, ``bench.monitor.vehicle_signals`` reads them from the DBC."""

from __future__ import annotations

VEHICLE_SIGNALS: dict[str, tuple[str, str]] = {
    "speed": ("VCU_VehicleState", "VehicleSpeed"),
    "gear": ("VCU_VehicleState", "GearPosition"),
    "ignition": ("VCU_VehicleState", "IgnitionState"),
    "parking_brake": ("VCU_VehicleState", "ParkingBrake"),
    "battery_voltage": ("VCU_BatteryState", "BatteryVoltage"),
    "state_of_charge": ("VCU_BatteryState", "StateOfCharge"),
}
"""A test's name of each vehicle signal -> (DBC message, signal)."""
