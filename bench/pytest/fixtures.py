"""pytest fixtures of the plugin: the bench, one ECU and what a test does with it.

``bench`` is brought up fresh for every test (own virtual channels, fresh NVM under the test's
tmp_path) and torn down afterwards whatever happened; a simulator crash during the test is
raised at tear-down as a ``BenchFault`` — an error of the bench, not a failure of the ECU.
What the bench saw is recorded right after the test body (``bench.report.evidence``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.config.models import BenchConfig
from bench.console import SerialConsole
from bench.errors import BenchFault, UsageError
from bench.faults import FaultInjector
from bench.flash import EcuDiagnostics, Flasher
from bench.image import FirmwareImage
from bench.image.builders import firmware_builder
from bench.power import PowerSupply
from bench.pytest.run_state import held_rack
from bench.report.evidence import FAULTS, SETUP_FAILED, STATE_BEFORE, record_evidence
from bench.report.labels import label_bench, label_ecu
from bench.rig import Bench, EcuHandle
from bench.sim.ecu import VirtualEcu
from bench.sim.vehicle_state import VehicleState
from bench.vehicle.bus_conditions import BATTERY_WH, BusConditions, listening

VEHICLE_HEARD_WITHIN = 5.0
"""Seconds ``vehicle_conditions`` waits for its listener to hear the vehicle messages sent at its start."""


@pytest.fixture
def bench_config(request: pytest.FixtureRequest) -> BenchConfig:
    """The bench file of the rack this test holds: the run's bench, or one rack of the pool that
    can run the test (``bench.pytest.run_state``), held by this test alone until its tear-down."""
    return held_rack(request.node)


@pytest.fixture
def bench(bench_config: BenchConfig, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Bench]:
    label_bench(bench_config.name)
    with Bench(bench_config, workdir=tmp_path, flash_progress=request.config.getoption("flash_progress")) as rig:
        request.node.stash[STATE_BEFORE] = rig.ecu_states()
        yield rig
        if request.node.stash.get(SETUP_FAILED, False):  # no test body ran: its evidence is recorded here
            record_evidence(request.node, rig, failed=True)
        faults = rig.faults()
    if faults:
        raise BenchFault("; ".join(faults))


@pytest.fixture
def ecu(bench: Bench, request: pytest.FixtureRequest) -> EcuHandle:
    """The ECU named by indirect parametrization, else by ``@pytest.mark.ecu(name)``, else the
    bench's only ECU; on a bench with several, a test that names none is a usage error listing them."""
    marker = request.node.get_closest_marker("ecu")
    name = getattr(request, "param", None) or (marker.args[0] if marker and marker.args else None)
    if name is None:
        if len(bench.config.ecus) > 1:
            raise UsageError(f"which ECU? bench {bench.config.name!r} ({bench.config.source}) has several: "
                             f"{', '.join(bench.config.ecus)}; name one with @pytest.mark.ecu(NAME) "
                             "(or parametrize 'ecu' indirectly)")
        name = next(iter(bench.config.ecus))
    handle = bench.ecu(name)
    label_ecu(name)
    return handle


@pytest.fixture
def flasher(ecu: EcuHandle) -> Flasher:
    return ecu.flasher


@pytest.fixture
def uds(ecu: EcuHandle):  # noqa: ANN201 - udsoncan Client
    return ecu.uds


@pytest.fixture
def diagnostics(ecu: EcuHandle) -> EcuDiagnostics:
    return ecu.diagnostics


@pytest.fixture
def power(ecu: EcuHandle) -> PowerSupply:
    if ecu.power is None:
        pytest.skip(f"ECU {ecu.name!r} has no power supply on this bench")
    return ecu.power


@pytest.fixture
def sim(ecu: EcuHandle) -> VirtualEcu:
    if ecu.sim is None:
        pytest.skip(f"ECU {ecu.name!r} is not simulated on this bench")
    return ecu.sim


@pytest.fixture
def console(bench: Bench, ecu: EcuHandle) -> SerialConsole:
    """The ECU's serial console, logged since the bench started (in the test's tmp_path)."""
    if ecu.config.console is None:
        pytest.skip(f"ECU {ecu.name!r} has no console on this bench")
    return bench.console(ecu.name)


@pytest.fixture
def vehicle(bench: Bench) -> VehicleState:
    """The vehicle state the bench's rest-bus sends: ``vehicle.speed = 3.0``,
    ``vehicle.ignition = "off"``, at any time, also in the middle of a flash."""
    if bench.vehicle is None:
        raise UsageError(f"bench {bench.config.name!r} ({bench.config.source}) sends no vehicle state: "
                         "add a rest-bus to its bench file (restbus: {buses: [BUS, ...]})")
    return bench.vehicle


@pytest.fixture
def vehicle_conditions(bench: Bench, vehicle: VehicleState) -> Iterator[BusConditions]:
    """The vehicle as an update master reads it (``UpdateMaster(bench, nvm, key, vehicle_conditions)``):
    its own listener on the rest-bus's first bus, a battery of ``BATTERY_WH`` (600 Wh); returned
    once it heard every vehicle signal (both messages are sent at once), else it finds them unknown."""
    assert bench.config.restbus is not None  # the vehicle fixture asked for it
    vehicle.speed, vehicle.battery_voltage = vehicle.speed, vehicle.battery_voltage  # sent now, not next cycle
    name = bench.config.restbus.buses[0]
    with listening(bench.config, name, capacity_wh=BATTERY_WH, channel=bench.channel(name),
                   wait=VEHICLE_HEARD_WITHIN) as conditions:
        yield conditions


@pytest.fixture(scope="session")
def firmware(pytestconfig: pytest.Config) -> Callable[[str], FirmwareImage]:
    """``firmware("app-2.0.0")`` builds fixtures/firmware/app-2.0.0.yaml (cached)."""
    return firmware_builder(pytestconfig.rootpath)


@pytest.fixture
def faults(bench: Bench, request: pytest.FixtureRequest) -> Iterator[FaultInjector]:
    """Arm faults for this test; all are disarmed, power restored and gateways cleared after it."""
    injector = FaultInjector(bench)
    request.node.stash[FAULTS] = injector.timeline  # the test's evidence shows it (bench.report.evidence)
    yield injector
    injector.close()
