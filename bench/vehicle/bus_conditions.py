"""The vehicle's state as the update master hears it on the bus: ``VehicleConditions`` over a
``bench.monitor.vehicle_listener.VehicleListener`` (the rest-bus's frames, decoded with the DBC).

The battery's available energy is its state of charge times its ``capacity_wh`` (the DBC carries
the charge in percent, not in watt-hours). A signal not heard recently is unknown, and the master
does not update a vehicle it cannot read (``VehicleStateUnknown``)."""

from __future__ import annotations

from bench.monitor.vehicle_listener import VehicleListener
from bench.vehicle.preconditions import VehicleState, VehicleStateUnknown


class BusConditions:
    def __init__(self, listener: VehicleListener, *, capacity_wh: float) -> None:
        self._listener = listener
        self._capacity_wh = capacity_wh

    def read(self) -> VehicleState:
        state = self._listener.state()
        fields = ("speed", "gear", "ignition", "parking_brake", "battery_voltage", "state_of_charge")
        missing = [name for name in fields if name not in state]
        if missing:
            raise VehicleStateUnknown(f"vehicle state unknown: {', '.join(missing)} not heard on the bus")
        return VehicleState(speed=float(state["speed"]), gear=str(state["gear"]), ignition=str(state["ignition"]),
                            parking_brake=state["parking_brake"] == "applied",
                            battery_voltage=float(state["battery_voltage"]),
                            available_energy_wh=float(state["state_of_charge"]) / 100 * self._capacity_wh)
