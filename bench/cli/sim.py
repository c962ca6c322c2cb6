"""``ota-bench sim --bench FILE --ecu NAME [--slcan HOST:PORT]``: serve one virtual ECU until Ctrl-C."""

from __future__ import annotations

import argparse
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import can

from bench.cli.common import EXIT_OK, can_id, ecu_config
from bench.cli.sim_activity import SimActivity
from bench.cli.tester_bench import tester_bench, write_tester_bench
from bench.config import BenchConfig, load_bench
from bench.errors import BenchFault, ConfigError
from bench.image.builders import FIRMWARE_DIR
from bench.instruments.slcan_bridge import SlcanBridge
from bench.monitor import BusMonitor
from bench.monitor.vehicle_signals import VehicleSignals
from bench.power import VirtualSupply
from bench.rig import Bench
from bench.sim.boot import RunningSoftware
from bench.sim.ecu import VirtualEcu
from bench.sim.factory import build_virtual_ecu, load_dbc
from bench.sim.restbus import RestBus
from bench.sim.vehicle_state import VehicleState
from bench.transport.can_bus import open_bus

SIM_NVM_ROOT = Path("reports/sim-nvm")
_RELEASE = re.compile(r"app-\d+\.\d+\.\d+")

_VIRTUAL_NOTE = ("python-can's 'virtual' interface is in-process only: a tester in another process "
                 "cannot reach it, so `sim` is useful on socketcan/vcan, a real adapter, or with --slcan")


def register(commands: argparse._SubParsersAction, bench_file: argparse.ArgumentParser) -> None:
    sim = commands.add_parser(
        "sim", parents=[bench_file], help="serve one virtual ECU on its bus until Ctrl-C",
        description="Run the virtual ECU NAME of the bench file, and only it, on its configured bus, "
                    "powered by a virtual supply, until Ctrl-C or SIGTERM. Its flash and EEPROM persist "
                    f"in --nvm across runs. Note: {_VIRTUAL_NOTE}.")
    sim.add_argument("--ecu", required=True, metavar="NAME", help="ECU of the bench file with a 'virtual:' section")
    sim.add_argument("--nvm", type=Path, metavar="DIR",
                     help=f"folder for the ECU's flash and EEPROM files (default: {SIM_NVM_ROOT}/NAME)")
    sim.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=False,
                     help="append a random suffix to a virtual bus channel, as tests do (default: off, "
                          "so the channel is the one in the bench file)")
    sim.add_argument("--slcan", type=_tcp_address, metavar="HOST:PORT",
                     help="also serve the ECU's bus (classic CAN) to SLCAN clients on this TCP address, as a "
                          "USB-serial CAN adapter would: a tester in another process opens it with python-can's "
                          "slcan interface, channel socket://HOST:PORT; port 0 picks a free port (printed)")
    sim.add_argument("--write-bench", type=Path, metavar="FILE",
                     help="write the bench file a tester in another process reaches this ECU with (its SLCAN port "
                          "with --slcan, else its bus), and print the flash command that uses it")
    sim.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    config = load_bench(args.bench)
    ecu = ecu_config(config, args.ecu)
    if ecu.virtual is None:
        raise ConfigError(f"ECU {args.ecu!r} is a real ECU (no 'virtual:' section): nothing to simulate",
                          file=str(config.source))
    nvm_dir = args.nvm if args.nvm is not None else SIM_NVM_ROOT / args.ecu
    bus = config.buses[ecu.bus]
    if args.slcan is not None and bus.fd:
        raise ConfigError(f"--slcan: ECU {args.ecu!r} is on CAN FD bus {ecu.bus!r}; SLCAN carries classic CAN only",
                          file=str(config.source))
    if args.write_bench is not None and args.slcan is None and bus.interface == "virtual":
        tester_bench(config, args.ecu, None)  # refuses, saying why, before anything starts
    kept = (nvm_dir / f"{args.ecu}.flash").exists()
    channel = Bench(config, workdir=nvm_dir, isolate=args.isolate).channel(ecu.bus)
    sim = build_virtual_ecu(config, args.ecu, nvm_dir=nvm_dir, channel=channel)
    supply = VirtualSupply(ecu.power or f"{args.ecu}-supply",
                           nominal_voltage=config.power[ecu.power].nominal_voltage if ecu.power else 13.5)
    supply.attach(sim.supply_changed)
    stop = threading.Event()
    activity = SimActivity(args.ecu, config.profiles[ecu.profile], say)
    slcan = _slcan_bridge(args.slcan, lambda: open_bus(ecu.bus, bus, channel=channel)) if args.slcan else nullcontext()
    with slcan as bridge, _stop_on_signals(stop), _restbus(config, ecu.bus, channel):
        supply.on()  # opens the bus: a BenchFault here means the interface/channel is not there
        try:
            say(f"{args.ecu}: virtual ECU listening on bus {ecu.bus!r} ({bus.interface} channel {channel!r}, "
                f"{'CAN FD' if bus.fd else 'classic CAN'}), request {can_id(ecu, ecu.request_id)}, "
                f"functional {can_id(ecu, ecu.functional_id)}, response {can_id(ecu, ecu.response_id)}"
                f"{f'; served over SLCAN at {bridge.url} (python-can interface slcan)' if bridge else ''}")
            say(f"{args.ecu}: " + (f"NVM kept in {nvm_dir}: it starts as the last run left it" if kept else
                                   f"new NVM in {nvm_dir}, programmed with its factory image"))
            activity.running_now(_running(sim))
            say(f"{args.ecu}: supply {supply.name} on; Ctrl-C or SIGTERM stops it")
            for line in next_steps(config, args, bridge.url if bridge else None):
                say(line)
            with _monitor(config, args.ecu, channel, activity):
                while not stop.wait(0.2) and sim.fault is None:
                    activity.running_now(_running(sim))
        finally:
            supply.off()  # returns once the simulator's threads have stopped
    if sim.fault is not None:
        raise BenchFault(f"virtual ECU {args.ecu} crashed: {sim.fault!r}")
    say(f"{args.ecu}: stopped")
    return EXIT_OK


def _running(sim: VirtualEcu) -> RunningSoftware | None:
    core = sim.core()
    return core.boot.running if core is not None else None


def say(line: str) -> None:
    print(line, flush=True)


def next_steps(config: BenchConfig, args: argparse.Namespace, slcan_url: str | None) -> list[str]:
    """How a tester in another process reaches the ECU: the bench file and the flash command."""
    image = f"--image {example_recipe()}"
    if args.write_bench is not None:
        write_tester_bench(args.write_bench, config, args.ecu, slcan_url)
        return [f"{args.ecu}: wrote the tester's bench file {args.write_bench}",
                f"next: ota-bench flash --bench {args.write_bench} --ecu {args.ecu} {image}"]
    bus = config.buses[config.ecus[args.ecu].bus]
    if slcan_url is None and bus.interface == "virtual":
        how = ("give its bus a socketcan/vcan channel in the bench file (SLCAN carries classic CAN only), then "
               "restart with --write-bench tester.yaml" if bus.fd else
               "restart with --slcan 127.0.0.1:0 --write-bench tester.yaml")
        return [f"note: {_VIRTUAL_NOTE}", f"next: {how}, then flash with that bench file"]
    if slcan_url is not None:
        return [f"next: add --write-bench tester.yaml for a ready bench file (a bus of interface slcan, channel "
                f"{slcan_url}), then: ota-bench flash --bench tester.yaml --ecu {args.ecu} {image}"]
    return [f"next: ota-bench flash --bench {args.bench} --ecu {args.ecu} --no-sim {image}"]


def example_recipe() -> str:
    """The newest plain release recipe under ./fixtures/firmware (the project's), for the printed command."""
    releases = sorted((path for path in FIRMWARE_DIR.glob("app-*.yaml") if _RELEASE.fullmatch(path.stem)),
                      key=lambda path: tuple(int(part) for part in path.stem[4:].split(".")))
    return str(releases[-1]) if releases else "RECIPE.yaml"


@contextmanager
def _monitor(config: BenchConfig, ecu: str, channel: str | int, activity: SimActivity) -> Iterator[None]:
    """A passive monitor of the ECU's bus (a handle of its own) telling ``activity`` what it sees."""
    bus_name = config.ecus[ecu].bus
    bus = open_bus(bus_name, config.buses[bus_name], channel=channel)
    try:
        with BusMonitor(bus, config.buses[bus_name], {ecu: config.ecus[ecu]}, name=f"sim-{ecu}-log") as monitor:
            monitor.subscribe(activity.event)
            yield
    finally:
        bus.shutdown()


@contextmanager
def _restbus(config: BenchConfig, bus_name: str, channel: str | int) -> Iterator[None]:
    """The bench's rest-bus on the ECU's bus, when the bench file sends the vehicle state there:
    a parked car with ignition on (the DBC's start values), for a master in another process."""
    if config.restbus is None or bus_name not in config.restbus.buses:
        yield
        return
    bus = open_bus(bus_name, config.buses[bus_name], channel=channel)
    state = VehicleState(VehicleSignals.from_dbc(load_dbc(config)))
    restbus = RestBus(state, {bus_name: bus}, name=f"restbus-{bus_name}")
    try:
        restbus.start()
        say(f"rest-bus: sending {', '.join(state.signals.messages)} on bus {bus_name!r}: "
            + ", ".join(f"{name} {value}" for name, value in state.values().items()))
        yield
    finally:
        restbus.stop()
        bus.shutdown()
    if restbus.fault is not None:
        raise BenchFault(f"rest-bus on bus {bus_name!r} stopped: {restbus.fault!r}")


def _tcp_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` of ``--slcan``."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:0 for any free port), got {text!r}")
    return host, int(port)


def _slcan_bridge(address: tuple[str, int], open_ecu_bus: Callable[[], can.BusABC]) -> SlcanBridge:
    host, port = address
    try:
        return SlcanBridge(open_ecu_bus, host=host, port=port)
    except OSError as exc:
        raise ConfigError(f"--slcan {host}:{port}: cannot listen there: {exc.strerror or exc}") from None


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` instead of killing the process (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.getsignal(number) for number in signals}
    for number in signals:
        signal.signal(number, lambda _number, _frame: stop.set())
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
