"""The vehicle of a campaign scenario, as the update master reads it and as a fault changes it.

``vehicle: object`` (a catalog's default): a ``VehicleState`` the master reads directly, seen by
no ECU. ``vehicle: bus``: the DBC's vehicle messages on the bus, sent by the bench's rest-bus
(``bench.sim.restbus``; on the targets' buses when the bench file has no ``restbus:``); the master
hears them through its own listener (``bench.vehicle.bus_conditions``), and the virtual ECUs on
those buses check them before they erase, as a car's ECUs do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Protocol

from bench.config.models import BenchConfig, RestBusConfig
from bench.errors import BenchFault
from bench.rig import Bench
from bench.scenarios.campaign_catalog import VehicleSource
from bench.vehicle.bus_conditions import BATTERY_WH, BusConditions, listening
from bench.vehicle.preconditions import VehicleConditions, VehicleState, VehicleStateUnknown

PARKED = VehicleState(speed=0.0, gear="P", ignition="on", parking_brake=True, battery_voltage=12.6,
                      available_energy_wh=500.0)
HEARD_WITHIN = 5.0
"""Seconds the master's listener may take to hear every vehicle message once they are sent."""


class ScenarioVehicle(Protocol):
    """What a scenario's faults do to the vehicle, and where its master reads it."""

    conditions: VehicleConditions

    def drive_off(self) -> None: ...

    def park(self) -> None: ...


@dataclass
class Vehicle:
    """The vehicle state the master reads directly (``vehicle: object``)."""

    state: VehicleState = PARKED

    @property
    def conditions(self) -> VehicleConditions:
        return self

    def read(self) -> VehicleState:
        return self.state

    def drive_off(self) -> None:
        self.state = replace(PARKED, speed=12.0, gear="D", parking_brake=False)

    def park(self) -> None:
        self.state = PARKED


class BusVehicle:
    """The vehicle state on the bus (``vehicle: bus``): set through the rig's rest-bus, read by the
    master's listener. ``drive_off`` and ``park`` return once the master's listener has heard the
    new state: the moment a fault changes the vehicle is the moment the master can know it (a
    frame on the bus reaches a receiver's application a little later, on a loaded host up to tens
    of milliseconds, and a master is not to be judged on that)."""

    def __init__(self, rig: Bench, conditions: BusConditions) -> None:
        assert rig.vehicle is not None  # the runner brings the bench up with its rest-bus
        self._state = rig.vehicle
        self.conditions = conditions

    def drive_off(self) -> None:
        self._state.speed, self._state.gear, self._state.parking_brake = 12.0, "D", "released"
        self.until_heard(lambda state: state.speed == 12.0 and state.gear == "D" and not state.parking_brake,
                         what="the vehicle driving off")

    def park(self) -> None:
        self._state.speed, self._state.gear, self._state.parking_brake = 0.0, "P", "applied"
        self.until_heard(lambda state: state.speed == 0.0 and state.gear == "P" and state.parking_brake,
                         what="the vehicle parked")

    def until_heard(self, heard: Callable[[VehicleState], bool], *, what: str) -> None:
        """Return once the master's listener reads a state ``heard`` accepts (the listener has no
        event to wait on: it is read every 2 ms); a BenchFault naming ``what`` past ``HEARD_WITHIN``."""
        deadline = time.monotonic() + HEARD_WITHIN
        while True:
            with suppress(VehicleStateUnknown):
                if heard(self.conditions.read()):
                    return
            if time.monotonic() > deadline:
                raise BenchFault(f"the master's listener did not hear {what} within {HEARD_WITHIN:g} s")
            time.sleep(0.002)


def with_restbus(config: BenchConfig, ecus: list[str]) -> BenchConfig:
    """``config``, sending the vehicle state on the buses of ``ecus`` when it sends it nowhere."""
    if config.restbus is not None:
        return config
    buses = sorted({config.ecus[name].bus for name in ecus})
    return config.model_copy(update={"restbus": RestBusConfig(buses=buses)})


@contextmanager
def scenario_vehicle(rig: Bench, source: VehicleSource) -> Iterator[ScenarioVehicle]:
    """The scenario's vehicle; on the bus, the master's listener is on the rest-bus's first bus."""
    if source == "object":
        yield Vehicle()
        return
    assert rig.config.restbus is not None
    name = rig.config.restbus.buses[0]
    with listening(rig.config, name, capacity_wh=BATTERY_WH, channel=rig.channel(name)) as conditions:
        vehicle = BusVehicle(rig, conditions)
        assert rig.vehicle is not None
        rig.vehicle.speed = rig.vehicle.speed  # each vehicle message sent now (a value set is), not at its
        rig.vehicle.battery_voltage = rig.vehicle.battery_voltage  # next cycle
        vehicle.until_heard(lambda state: True, what=f"the rest-bus's vehicle messages on bus {name}")
        yield vehicle
