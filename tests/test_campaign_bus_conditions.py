"""The update master reading the vehicle from the bus (``bench.vehicle.bus_conditions``): the rest-bus
sends what the test sets, the master's listener hears it, and the campaign runs only on a parked
vehicle with energy for the update and a recovery, which the ECUs' own precondition checks (they
hear the same frames) then accept; a vehicle it cannot hear is not updated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.config.models import RestBusConfig
from bench.monitor.vehicle_listener import VehicleListener
from bench.monitor.vehicle_signals import VehicleSignals
from bench.rig import Bench
from bench.sim.factory import load_dbc
from bench.vehicle.acceptance import CampaignRefused
from bench.vehicle.bus_conditions import BusConditions, listening
from campaigns import make_master, running_versions, virtual_bench, write_campaign

CAPACITY_WH = 600.0
"""The 12 V battery's capacity: at 10 % charge it holds 60 Wh, more than the 45 Wh the campaign needs."""


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Bench]:
    config = virtual_bench().model_copy(update={"restbus": RestBusConfig(buses=["body"])})
    with Bench(config, workdir=tmp_path / "bench", gateway=False) as bench:
        yield bench


@pytest.fixture
def conditions(rig: Bench) -> Iterator[BusConditions]:
    """The master's node on the body bus: a listener of the vehicle messages."""
    with listening(rig.config, "body", capacity_wh=CAPACITY_WH, channel=rig.channel("body")) as conditions:
        yield conditions


def settle(rig: Bench) -> None:
    """Both vehicle messages sent now (a value set is sent at once), and heard."""
    assert rig.vehicle is not None
    rig.vehicle.speed = rig.vehicle.speed
    rig.vehicle.battery_voltage = rig.vehicle.battery_voltage


def test_a_vehicle_that_drives_is_refused_and_the_parked_one_is_updated(rig: Bench, conditions: BusConditions,
                                                                       tmp_path: Path) -> None:
    assert rig.vehicle is not None
    rig.vehicle.speed, rig.vehicle.gear, rig.vehicle.parking_brake = 30.0, "D", "released"
    settle(rig)
    manifest = write_campaign(tmp_path / "cloud")
    with pytest.raises(CampaignRefused, match="speed 30 km/h above 0; gear D not in P; parking brake released"):
        make_master(rig, tmp_path / "first", conditions).run(manifest)
    assert rig.flash_results() == []
    rig.vehicle.speed, rig.vehicle.gear, rig.vehicle.parking_brake, rig.vehicle.state_of_charge = 0.0, "P", "applied", 10
    settle(rig)
    report = make_master(rig, tmp_path / "second", conditions).run(manifest)
    assert report.outcome == "committed", report.reason
    assert running_versions(rig) == {"bcm": "1.1.0", "eps": "2.0.0", "bms": "1.1.0"}


def test_a_vehicle_the_master_cannot_hear_is_not_updated(rig: Bench, tmp_path: Path) -> None:
    silent = BusConditions(VehicleListener(VehicleSignals.from_dbc(load_dbc(rig.config))), capacity_wh=CAPACITY_WH)
    with pytest.raises(CampaignRefused, match="vehicle state unknown: speed, gear, ignition, parking_brake, "
                                              "battery_voltage, state_of_charge not heard on the bus"):
        make_master(rig, tmp_path, silent).run(write_campaign(tmp_path / "cloud"))
    assert rig.flash_results() == []
