"""The vehicle's state as the update master hears it on the bus: ``VehicleConditions`` over a
``bench.monitor.vehicle_listener.VehicleListener`` (the rest-bus's frames, decoded with the DBC).

The battery's available energy is its state of charge times its ``capacity_wh`` (the DBC carries
the charge in percent, not in watt-hours). A signal not heard recently is unknown, and the master
does not update a vehicle it cannot read (``VehicleStateUnknown``). ``listening`` is the
master's own node on a bus: a listener of the vehicle messages while it lasts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import can

from bench.config.models import BenchConfig
from bench.monitor.vehicle_listener import VehicleListener
from bench.monitor.vehicle_signals import SIGNALS, VehicleSignals
from bench.sim.factory import load_dbc
from bench.transport.can_bus import open_bus
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


BATTERY_WH = 600.0
"""The 12 V battery's capacity an update master assumes unless told (energy: state of charge times it)."""
LISTEN_POLL = 0.01
"""Seconds between two looks at what the listener heard while ``listening`` waits."""


@contextmanager
def listening(config: BenchConfig, bus_name: str, *, capacity_wh: float, channel: str | int | None = None,
              wait: float = 0.0) -> Iterator[BusConditions]:
    """The master's own node on ``bus_name`` (``channel``: the bench's tester channel of it) hearing
    the DBC's vehicle messages, returned once every signal was heard or ``wait`` seconds passed
    (then the master finds the state unknown and updates nothing)."""
    bus = open_bus(bus_name, config.buses[bus_name], channel=channel)
    listener = VehicleListener(VehicleSignals.from_dbc(load_dbc(config)))
    notifier = can.Notifier(bus, [listener], timeout=0.01)
    try:
        deadline = time.monotonic() + wait
        while len(listener.state()) < len(SIGNALS) and time.monotonic() < deadline:
            time.sleep(LISTEN_POLL)
        yield BusConditions(listener, capacity_wh=capacity_wh)
    finally:
        notifier.stop()
        bus.shutdown()
