"""Vehicle state on the bus: the rest-bus sends what a test sets (decoded here with cantools), the
HIS ECU's check programming preconditions (0x0203) answers from what it hears, a flash is refused
while the vehicle moves, an update master's listener says why an update is not safe, and a
mistaken signal or value is a usage error naming what is allowed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import can
import cantools
import pytest

from bench.config import BenchConfig, load_bench
from bench.errors import ConfigError, FlashError, UsageError
from bench.faults import FaultInjector, uds
from bench.image.builders import firmware_builder
from bench.image.software import load_software
from bench.monitor.vehicle_listener import VehicleListener
from bench.monitor.vehicle_signals import SIGNALS, VehicleSignals
from bench.rig import Bench, EcuHandle
from bench.sim.vehicle_state import VehicleState
from bench.transport.can_bus import open_bus
from rack_suite import virtual_rack

REPO = Path(__file__).resolve().parents[1]
DBC = cantools.database.load_file(str(REPO / "dbc" / "virtual_vehicle.dbc"))
EPS_2 = REPO / "fixtures" / "software" / "eps-2.0.0.hex"
RESTBUS = "\nrestbus:\n  buses: [body]\n"
PRECONDITIONS = 0x0203


def vehicle_rack(directory: Path, restbus: str = RESTBUS) -> Path:
    """The virtual bench with its HIS ECU (eps, on bus body) alone, plus ``restbus``."""
    path = virtual_rack(directory, "vehicle-rack", only="eps")
    path.write_text(path.read_text() + restbus)
    return path


@pytest.fixture
def config(tmp_path: Path) -> BenchConfig:
    return load_bench(vehicle_rack(tmp_path / "bench")).with_network_margin(1.0)


@pytest.fixture
def rig(config: BenchConfig, tmp_path: Path) -> Iterator[Bench]:
    with Bench(config, workdir=tmp_path) as bench:
        yield bench
        assert not bench.faults()


@pytest.fixture
def eps(rig: Bench) -> EcuHandle:
    return rig.ecu("eps")


def preconditions_status(ecu: EcuHandle) -> bytes:
    ecu.uds.change_session(0x03)
    response = ecu.uds.start_routine(PRECONDITIONS)
    return bytes(response.service_data.routine_status_record)


def test_the_frames_on_the_bus_decode_to_what_the_test_set(rig: Bench) -> None:
    tester_side = open_bus("body", rig.config.buses["body"], channel=rig.channel("body"))
    try:
        vehicle = rig.vehicle
        assert vehicle is not None
        vehicle.speed = 3.0
        vehicle.gear = "D"
        vehicle.parking_brake = "released"
        vehicle.ignition = "acc"
        vehicle.battery_voltage = 11.2
        vehicle.state_of_charge = 42.5
        wanted = {"VCU_VehicleState": {"VehicleSpeed": 3.0, "GearPosition": "D", "IgnitionState": "acc",
                                       "ParkingBrake": "released"},
                  "VCU_BatteryState": {"BatteryVoltage": 11.2, "StateOfCharge": 42.5}}
        heard: dict[str, dict[str, object]] = {}
        deadline = time.monotonic() + 5.0
        while heard != wanted and time.monotonic() < deadline:
            frame = vehicle_frame(tester_side.recv(0.1))
            if frame is not None:
                heard[frame[0]] = frame[1]
        assert heard == wanted
    finally:
        tester_side.shutdown()


def test_check_programming_preconditions_answers_from_the_bus(rig: Bench, eps: EcuHandle) -> None:
    vehicle = rig.vehicle
    assert vehicle is not None
    assert preconditions_status(eps) == b"\x00"
    vehicle.speed = 3.0
    assert preconditions_status(eps) == b"\x02"
    vehicle.gear, vehicle.ignition, vehicle.battery_voltage = "D", "acc", 11.2
    assert preconditions_status(eps) == b"\x02\x03\x04\x05"
    vehicle.speed, vehicle.gear, vehicle.ignition, vehicle.battery_voltage = 0.0, "P", "on", 12.4
    assert preconditions_status(eps) == b"\x00"
    assert eps.sim is not None and eps.sim.precondition_refusals == [
        "vehicle moving: speed 3 km/h > 0",
        "vehicle moving: speed 3 km/h > 0; not parked: gear D (needs P); ignition acc (needs on); "
        "low battery: 11.20 V < 11.5 V"]


def test_a_flash_is_refused_while_the_vehicle_moves(rig: Bench, eps: EcuHandle) -> None:
    assert rig.vehicle is not None
    rig.vehicle.speed = 3.0
    with pytest.raises(FlashError) as refused:
        eps.flasher.flash_software([load_software(EPS_2)], expect_version="2.0.0")
    assert ("RoutineControl check programming preconditions reported status 0x02: "
            "the vehicle is moving (speed above 0)") in str(refused.value)
    evidence = rig.evidence()
    assert evidence["vehicle state set"].endswith("speed = 3.0")
    assert evidence["programming preconditions refused"] == "eps: vehicle moving: speed 3 km/h > 0"
    assert eps.diagnostics.read_version() == "1.0.0"


def test_the_vehicle_set_moving_mid_flash_changes_the_next_check(rig: Bench, eps: EcuHandle) -> None:
    vehicle = rig.vehicle
    assert vehicle is not None
    injector = FaultInjector(rig)
    try:
        def drive_off() -> str:
            vehicle.speed = 8.5
            return "vehicle drives off at 8.5 km/h"

        injector.when(uds.transfer_data(nth=2)).custom(eps, "vehicle moves", drive_off)
        result = eps.flasher.flash_software([load_software(EPS_2)], expect_version="2.0.0")
    finally:
        injector.close()
    assert result.version_after == "2.0.0"  # the check came before: a bootloader checks once, at the start
    assert vehicle.speed == 8.5
    assert preconditions_status(eps) == b"\x02"


def test_the_listener_says_why_an_update_is_not_safe(rig: Bench) -> None:
    tester_side = open_bus("body", rig.config.buses["body"], channel=rig.channel("body"))
    listener = VehicleListener(VehicleSignals.from_dbc(DBC))
    notifier = can.Notifier(tester_side, [listener], timeout=0.01)
    try:
        vehicle = rig.vehicle
        assert vehicle is not None
        vehicle.battery_voltage = 12.6  # sent at once: both messages heard without waiting a cycle
        vehicle.speed = 0.0
        assert wait_for(lambda: listener.why_not_safe() is None)
        vehicle.ignition = "off"
        vehicle.battery_voltage = 11.2
        assert wait_for(lambda: listener.why_not_safe() == "ignition off (needs on); low battery: 11.20 V < 11.5 V")
    finally:
        notifier.stop()
        tester_side.shutdown()


def test_the_listener_takes_the_vehicle_messages_by_id_and_frame_format() -> None:
    """Its keys are the DBC messages' (id, 29-bit): a routing notifier hands it nothing else, and
    a frame of the same id in the other format is not the message, whatever the notifier."""
    signals = VehicleSignals.from_dbc(DBC)
    listener = VehicleListener(signals)
    message = signals.messages[SIGNALS["speed"][0]]
    assert (message.frame_id, message.is_extended_frame) in listener.frame_keys()
    assert len(listener.frame_keys()) == len(signals.messages)
    data = message.encode({signal.name: 0 for signal in message.signals})
    listener.on_message_received(can.Message(arbitration_id=message.frame_id, data=data,
                                             is_extended_id=not message.is_extended_frame))
    assert listener.state() == {}
    listener.on_message_received(can.Message(arbitration_id=message.frame_id, data=data,
                                             is_extended_id=message.is_extended_frame))
    assert "speed" in listener.state()


def wait_for(condition, timeout: float = 5.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_listener_that_heard_nothing_or_long_ago_says_the_state_is_unknown() -> None:
    now = [100.0]
    signals = VehicleSignals.from_dbc(DBC)
    listener = VehicleListener(signals, clock=lambda: now[0])
    assert listener.why_not_safe() == ("vehicle state unknown: no VCU_BatteryState frame heard; "
                                       "vehicle state unknown: no VCU_VehicleState frame heard")
    state = VehicleState(signals)
    for message in signals.messages.values():
        listener.on_message_received(can.Message(arbitration_id=message.frame_id,
                                                 is_extended_id=message.is_extended_frame,
                                                 data=message.encode(state.message_values(message.name))))
    assert listener.why_not_safe() is None and listener.violations() == []
    now[0] += 2.0  # VCU_BatteryState cycles at 500 ms: stale after 2.5 s; VCU_VehicleState after 1 s
    assert listener.why_not_safe() == "vehicle state unknown: no VCU_VehicleState frame heard"
    assert listener.violations() == []  # a bootloader judges only what it heard


def test_an_unknown_signal_or_value_names_what_is_allowed() -> None:
    vehicle = VehicleState(VehicleSignals.from_dbc(DBC))
    with pytest.raises(UsageError, match="no vehicle signal 'sped'; the vehicle has: speed, gear, ignition, "
                                         "parking_brake, battery_voltage, state_of_charge"):
        vehicle.sped = 3.0
    with pytest.raises(UsageError, match="vehicle.ignition = 'run': not a value of IgnitionState; "
                                         "allowed: off, acc, on, start"):
        vehicle.ignition = "run"
    with pytest.raises(UsageError, match=r"vehicle.speed = 700: outside VehicleSpeed's range 0..655.35 km/h"):
        vehicle.speed = 700
    with pytest.raises(UsageError, match="vehicle.battery_voltage = 'low': BatteryVoltage takes a number"):
        vehicle.battery_voltage = "low"
    assert vehicle.values() == {"speed": 0.0, "gear": "P", "ignition": "on", "parking_brake": "applied",
                                "battery_voltage": 12.6, "state_of_charge": 80.0}


def test_a_restbus_on_an_unknown_bus_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_bench(vehicle_rack(tmp_path, "\nrestbus:\n  buses: [body, chassis]\n"))
    assert error.value.field == "restbus.buses[1]"
    assert "unknown bus 'chassis'; 'buses' defines: body, powertrain" in str(error.value)
    assert "vehicle-rack.yaml" in str(error.value)


def test_the_rest_bus_thread_ends_with_the_bench(config: BenchConfig, tmp_path: Path) -> None:
    with Bench(config, workdir=tmp_path) as bench:
        assert bench.restbus is not None
        assert any(thread.name == "restbus" for thread in threading.enumerate())
    assert not any(thread.name == "restbus" for thread in threading.enumerate())


VEHICLE_TEST = f"""
import pytest
from bench.errors import FlashError, UsageError
from bench.image.software import load_software

@pytest.mark.ecu("eps")
def test_no_update_while_driving(vehicle, ecu):  # the README's example
    vehicle.speed = 3.0
    with pytest.raises(FlashError, match="the vehicle is moving"):
        ecu.flasher.flash_software([load_software({str(EPS_2)!r})])
    assert vehicle.speed == 3.0
    with pytest.raises(UsageError, match="allowed: off, acc, on, start"):
        vehicle.ignition = "crank"
"""


def readme_example() -> str:
    """The test of the README's section "Vehicle state on the bus", as a reader copies it."""
    section = (REPO / "README.md").read_text().split("## Vehicle state on the bus", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_vehicle_fixture(pytester: pytest.Pytester) -> None:
    (pytester.path / "fixtures").symlink_to(REPO / "fixtures")
    pytester.makepyfile(test_vehicle=VEHICLE_TEST, test_readme=readme_example())
    result = pytester.runpytest("--bench", str(vehicle_rack(pytester.path)), "-p", "no:xdist")
    result.assert_outcomes(passed=2)


def test_the_vehicle_fixture_on_a_bench_without_restbus_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_set(vehicle):\n    raise AssertionError('must not run')\n")
    result = pytester.runpytest("--bench", str(vehicle_rack(pytester.path, "")), "-p", "no:xdist")
    result.stdout.fnmatch_lines(["*UsageError: bench 'vehicle-rack' (*vehicle-rack.yaml) sends no vehicle state: "
                                 "add a rest-bus to its bench file (restbus: {buses: [[]BUS, ...[]]})*"])
    result.stdout.no_fnmatch_line("*must not run*")


def test_the_bench_bootloader_refuses_to_erase_with_the_ignition_off(tmp_path: Path) -> None:
    rack = virtual_rack(tmp_path / "bench", "bcm-rack", only="bcm")
    rack.write_text(rack.read_text() + RESTBUS)
    with Bench(load_bench(rack).with_network_margin(1.0), workdir=tmp_path) as rig:
        bcm = rig.ecu("bcm")
        assert rig.vehicle is not None
        rig.vehicle.ignition = "off"
        with pytest.raises(FlashError) as refused:
            bcm.flasher.flash(firmware_builder(REPO)("app-2.0.0"))
        assert "ConditionsNotCorrect" in str(refused.value)
        assert "vehicle state" in str(refused.value)  # what the NRC means, in words (bench.flash.refusals)
        assert rig.evidence()["programming preconditions refused"] == "bcm: ignition off (needs on)"
        assert bcm.diagnostics.read_version() == "1.0.0"  # refused before anything was erased
        assert not rig.faults()


def test_a_restbus_whose_dbc_lacks_the_vehicle_messages_is_refused(tmp_path: Path) -> None:
    dbc = tmp_path / "status-only.dbc"
    shipped = (REPO / "dbc" / "virtual_vehicle.dbc").read_text()
    dbc.write_text(shipped.replace("BO_ 784 VCU_VehicleState", "BO_ 784 VCU_Other"))
    rack = vehicle_rack(tmp_path)
    rack.write_text(rack.read_text().replace(str(REPO / "dbc" / "virtual_vehicle.dbc"), str(dbc)))
    with pytest.raises(ConfigError) as error:
        load_bench(rack)
    assert error.value.field == "restbus"
    assert "lack the vehicle message(s) VCU_VehicleState the rest-bus sends" in str(error.value)


def test_the_rest_bus_repeats_each_message_with_nothing_set(rig: Bench) -> None:
    parked = {"VCU_VehicleState": {"VehicleSpeed": 0.0, "GearPosition": "P", "IgnitionState": "on",
                                   "ParkingBrake": "applied"},
              "VCU_BatteryState": {"BatteryVoltage": 12.6, "StateOfCharge": 80.0}}
    tester_side = open_bus("body", rig.config.buses["body"], channel=rig.channel("body"))
    try:
        counts = dict.fromkeys(parked, 0)
        deadline = time.monotonic() + 10.0
        while min(counts.values()) < 3 and time.monotonic() < deadline:
            heard = vehicle_frame(tester_side.recv(0.1))
            if heard is not None:
                name, values = heard
                assert values == parked[name]
                counts[name] += 1
        assert min(counts.values()) >= 3, counts
    finally:
        tester_side.shutdown()


def vehicle_frame(frame: can.Message | None) -> tuple[str, dict[str, object]] | None:
    """(message name, signals) of a vehicle-state frame, decoded with cantools; None for any other."""
    if frame is None or frame.arbitration_id not in (0x310, 0x311):
        return None
    message = DBC.get_message_by_frame_id(frame.arbitration_id)
    return message.name, {name: round(value, 3) if isinstance(value, float | int) else str(value)
                          for name, value in message.decode(frame.data).items()}
