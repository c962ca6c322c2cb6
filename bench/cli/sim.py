"""``ota-bench sim --bench FILE --ecu NAME [--slcan HOST:PORT]``: serve one virtual ECU until Ctrl-C;
with ``--all`` or ``--ecu`` given several times, every one named, one SLCAN port per bus."""

from __future__ import annotations

import argparse
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from functools import partial
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
        "sim", parents=[bench_file], help="serve virtual ECUs on their buses until Ctrl-C",
        description="Run the virtual ECU NAME of the bench file (or several: --ecu again, or --all) on its "
                    "configured bus, "
                    "powered by a virtual supply, until Ctrl-C or SIGTERM. Its flash and EEPROM persist "
                    f"in --nvm across runs. Note: {_VIRTUAL_NOTE}.")
    sim.add_argument("--ecu", action="append", metavar="NAME",
                     help="ECU of the bench file with a 'virtual:' section; several --ecu serve them all at once")
    sim.add_argument("--all", action="store_true", help="serve every virtual ECU of the bench file at once")
    sim.add_argument("--nvm", type=Path, metavar="DIR",
                     help=f"folder for the ECU's flash and EEPROM files (default: {SIM_NVM_ROOT}/NAME); with "
                          "several ECUs, the folder holding one per ECU, DIR/NAME")
    sim.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=False,
                     help="append a random suffix to a virtual bus channel, as tests do (default: off, "
                          "so the channel is the one in the bench file)")
    sim.add_argument("--slcan", type=_tcp_address, metavar="HOST:PORT",
                     help="also serve the ECU's bus (classic CAN) to SLCAN clients on this TCP address, as a "
                          "USB-serial CAN adapter would: a tester in another process opens it with python-can's "
                          "slcan interface, channel socket://HOST:PORT; port 0 picks a free port (printed)")
    sim.add_argument("--write-bench", type=Path, metavar="FILE",
                     help="write the bench file a tester in another process reaches the ECUs with (their SLCAN "
                          "ports with --slcan, else their buses), and print the flash command that uses it")
    sim.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    config = load_bench(args.bench)
    names = _served_names(config, args)
    if len(names) > 1:
        return _run_many(config, args, names)
    args.ecu = names[0]
    ecu = config.ecus[args.ecu]
    nvm_dir = args.nvm if args.nvm is not None else SIM_NVM_ROOT / args.ecu
    bus = config.buses[ecu.bus]
    if args.slcan is not None and bus.fd:
        raise ConfigError(f"--slcan: ECU {args.ecu!r} is on CAN FD bus {ecu.bus!r}; SLCAN carries classic CAN only",
                          file=str(config.source))
    if args.write_bench is not None and args.slcan is None and bus.interface == "virtual":
        tester_bench(config, [args.ecu], {})  # refuses, saying why, before anything starts
    channel = Bench(config, workdir=nvm_dir, isolate=args.isolate).channel(ecu.bus)
    stop = threading.Event()
    slcan = _slcan_bridge(args.slcan, lambda: open_bus(ecu.bus, bus, channel=channel)) if args.slcan else nullcontext()
    with slcan as bridge, _stop_on_signals(stop), _restbus(config, ecu.bus, channel):
        with _served(config, args.ecu, nvm_dir, channel, bridge.url if bridge else None) as (sim, activity):
            for line in next_steps(config, args, bridge.url if bridge else None):
                say(line)
            while not stop.wait(0.2) and sim.fault is None:
                activity.running_now(_running(sim))
    return EXIT_OK


def _served_names(config: BenchConfig, args: argparse.Namespace) -> list[str]:
    """The ECUs ``--ecu``/``--all`` name, each checked to be a virtual ECU of the bench file."""
    if args.all == bool(args.ecu):
        raise ConfigError("sim: name the ECUs to serve with --ecu NAME (once or more) or serve them all with --all")
    names = [name for name, ecu in config.ecus.items() if ecu.virtual is not None] if args.all else args.ecu
    for name in names:
        if ecu_config(config, name).virtual is None:
            raise ConfigError(f"ECU {name!r} is a real ECU (no 'virtual:' section): nothing to simulate",
                              file=str(config.source))
        if ecu_config(config, name).bus is None:
            raise ConfigError(f"ECU {name!r} is on Ethernet (no bus): sim serves ECUs on CAN; the bench runs an "
                              "ECU on Ethernet with its DoIP entity", file=str(config.source))
    if not names:
        raise ConfigError("--all: the bench file has no virtual ECU (no 'virtual:' section)", file=str(config.source))
    return list(dict.fromkeys(names))


def _run_many(config: BenchConfig, args: argparse.Namespace, names: list[str]) -> int:
    """Serve every ECU of ``names`` at once: one SLCAN port per bus, NVM in ``--nvm``/NAME."""
    root = args.nvm if args.nvm is not None else SIM_NVM_ROOT
    buses = list(dict.fromkeys(config.ecus[name].bus for name in names))
    if args.slcan is not None:
        fd = [name for name in names if config.buses[config.ecus[name].bus].fd]
        if fd:
            raise ConfigError(f"--slcan: ECU {fd[0]!r} is on CAN FD bus {config.ecus[fd[0]].bus!r}; SLCAN carries "
                              "classic CAN only (serve the ECUs of classic CAN buses with --ecu NAME ..., or make the bus classic "
                              "CAN in the bench file: drop its fd and data_bitrate)",
                              file=str(config.source))
        if args.slcan[1] != 0 and len(buses) > 1:
            raise ConfigError(f"--slcan: {len(buses)} buses need a port each; give port 0 (a free port per bus)",
                              file=str(config.source))
    elif args.write_bench is not None:
        tester_bench(config, names, {})  # refuses a virtual bus, saying why, before anything starts
    rig = Bench(config, workdir=root, isolate=args.isolate)
    channels = {bus: rig.channel(bus) for bus in buses}
    stop = threading.Event()
    with ExitStack() as stack:
        urls = {bus: stack.enter_context(_slcan_bridge(args.slcan, partial(
            open_bus, bus, config.buses[bus], channel=channels[bus]))).url for bus in buses} if args.slcan else {}
        stack.enter_context(_stop_on_signals(stop))
        for bus in buses:
            stack.enter_context(_restbus(config, bus, channels[bus]))
        served = [stack.enter_context(_served(config, name, root / name, channels[config.ecus[name].bus],
                                              urls.get(config.ecus[name].bus))) for name in names]
        if args.write_bench is not None:
            write_tester_bench(args.write_bench, config, names, urls)
            say(f"wrote the tester's bench file {args.write_bench} with ECUs {', '.join(names)}")
            for name in names:
                say(f"next: ota-bench flash --bench {args.write_bench} --ecu {name} {flash_arguments(config, name)}")
            say(f"next: ota-bench campaign --bench {args.write_bench} --manifest M.yaml --key PUB.pem --nvm DIR")
        say(f"serving {len(names)} virtual ECUs: {', '.join(names)}; Ctrl-C or SIGTERM stops them")
        while not stop.wait(0.2) and all(sim.fault is None for sim, _ in served):
            for sim, activity in served:
                activity.running_now(_running(sim))
    return EXIT_OK


@contextmanager
def _served(config: BenchConfig, name: str, nvm_dir: Path, channel: str | int,
            slcan_url: str | None) -> Iterator[tuple[VirtualEcu, SimActivity]]:
    """ECU ``name`` powered on ``channel``, saying how to reach it, logging what a tester does with it."""
    ecu = config.ecus[name]
    bus = config.buses[ecu.bus]
    kept = (nvm_dir / f"{name}.flash").exists()
    sim = build_virtual_ecu(config, name, nvm_dir=nvm_dir, channel=channel)
    supply = VirtualSupply(ecu.power or f"{name}-supply",
                           nominal_voltage=config.power[ecu.power].nominal_voltage if ecu.power else 13.5)
    supply.attach(sim.supply_changed)
    activity = SimActivity(name, config.profiles[ecu.profile], say)
    supply.on()  # opens the bus: a BenchFault here means the interface/channel is not there
    try:
        say(f"{name}: virtual ECU listening on bus {ecu.bus!r} ({bus.interface} channel {channel!r}, "
            f"{'CAN FD' if bus.fd else 'classic CAN'}), request {can_id(ecu, ecu.request_id)}, "
            f"functional {can_id(ecu, ecu.functional_id)}, response {can_id(ecu, ecu.response_id)}"
            f"{f'; served over SLCAN at {slcan_url} (python-can interface slcan)' if slcan_url else ''}")
        say(f"{name}: " + (f"NVM kept in {nvm_dir}: it starts as the last run left it" if kept else
                           f"new NVM in {nvm_dir}, programmed with its factory image"))
        activity.running_now(_running(sim))
        say(f"{name}: supply {supply.name} on; Ctrl-C or SIGTERM stops it")
        with _monitor(config, name, channel, activity):
            yield sim, activity
    finally:
        supply.off()  # returns once the simulator's threads have stopped
    if sim.fault is not None:
        raise BenchFault(f"virtual ECU {name} crashed: {sim.fault!r}")
    say(f"{name}: stopped")


def _running(sim: VirtualEcu) -> RunningSoftware | None:
    core = sim.core()
    return core.boot.running if core is not None else None


def say(line: str) -> None:
    print(line, flush=True)


def next_steps(config: BenchConfig, args: argparse.Namespace, slcan_url: str | None) -> list[str]:
    """How a tester in another process reaches the ECU: the bench file and the flash command."""
    image = flash_arguments(config, args.ecu)
    if args.write_bench is not None:
        urls = {config.ecus[args.ecu].bus: slcan_url} if slcan_url else {}
        write_tester_bench(args.write_bench, config, [args.ecu], urls)
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


def flash_arguments(config: BenchConfig, ecu: str) -> str:
    """What ``ota-bench flash`` takes for ``ecu``: the bench's image (a recipe), or software files
    when its flash specification keeps no journal (``his``: Intel HEX, S-record, VBF)."""
    spec = config.profiles[config.ecus[ecu].profile].flash_spec
    return f"--image {example_recipe()}" if spec.takes_images else "--file APP.hex"


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
