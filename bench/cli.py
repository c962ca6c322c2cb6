"""The command line, ``ota-bench`` (also ``python -m bench``): what is not a test.

    ota-bench list  --bench FILE                           what the bench file describes
    ota-bench sim   --bench FILE --ecu NAME [--slcan H:P]  serve one virtual ECU on its bus [and over SLCAN/TCP]
    ota-bench flash --bench FILE --ecu NAME --image X      flash one ECU by hand [--delta-from BASE]
    ota-bench image RECIPE.yaml -o OUT.bin                 build a signed test image

Exit codes: 0 success, 1 the ECU failed (``FlashError``), 2 a user error (``ConfigError``, bad
arguments), 3 a fault of the bench (``BenchFault``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

import can
from udsoncan.exceptions import InvalidResponseException, UnexpectedResponseException

from bench.config import BenchConfig, BusConfig, EcuConfig, load_bench
from bench.errors import BenchFault, ConfigError, FlashError
from bench.image import (DeltaPackage, FirmwareImage, ImageFormatError, PatchLayout, build_image,
                         create_delta_package, load_private_key, load_recipe)
from bench.instruments.slcan_bridge import SlcanBridge
from bench.power import VirtualSupply
from bench.report.progress import terminal_progress
from bench.rig import Bench
from bench.sim.factory import build_virtual_ecu
from bench.transport.can_bus import open_bus

EXIT_OK, EXIT_ECU_FAILED, EXIT_USER_ERROR, EXIT_BENCH_FAULT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
SIM_NVM_ROOT = Path("reports/sim-nvm")

_VIRTUAL_NOTE = ("python-can's 'virtual' interface is in-process only: a tester in another process "
                 "cannot reach it, so `sim` is useful on socketcan/vcan, a real adapter, or with --slcan")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (the console script passes it to ``sys.exit``)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return it, never exit from here
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO,
                            format="%(relativeCreated)8.0f ms %(levelname)-7s %(name)s: %(message)s")
    try:
        return args.command(args)
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USER_ERROR
    except BenchFault as exc:
        _error(f"bench fault (not a finding about the ECU): {exc}")
        return EXIT_BENCH_FAULT
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ota-bench", description="Bench tools that are not tests: list a bench, serve a virtual ECU, "
                                      "flash an ECU by hand, build a signed test image.",
        epilog="exit codes: 0 ok, 1 ECU failure, 2 user error (bad file or arguments), 3 bench fault")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log what the libraries do (-vv: every UDS request and ISO-TP event)")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    bench_file = argparse.ArgumentParser(add_help=False)
    bench_file.add_argument("--bench", required=True, type=Path, metavar="FILE", help="bench file (YAML)")

    listing = commands.add_parser("list", parents=[bench_file], help="buses and ECUs of a bench file",
                                  description="Print the buses and ECUs a bench file describes.")
    listing.set_defaults(command=_list)

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
    sim.set_defaults(command=_sim)

    flash = commands.add_parser(
        "flash", parents=[bench_file], help="flash one ECU and print the timeline",
        description="Bring up the bench (its virtual ECUs run in this process) and reprogram ECU NAME. "
                    "Exit 0 when the ECU runs the new version, 1 when it does not, 2 on a user error, "
                    "3 on a bench fault.")
    flash.add_argument("--ecu", required=True, metavar="NAME", help="ECU to flash")
    flash.add_argument("--image", required=True, type=Path, metavar="FILE",
                       help="firmware recipe (.yaml) or an image built by `ota-bench image` (.bin)")
    flash.add_argument("--delta-from", type=Path, metavar="FILE",
                       help="recipe (.yaml) or image (.bin) of the firmware the ECU runs now: send a delta package "
                            "from it to --image (a recipe, whose key signs the package) when the ECU runs exactly "
                            "that, else the full image")
    flash.add_argument("--resume", action="store_true",
                       help="continue an interrupted download from the ECU's journal when it holds this image")
    flash.add_argument("--workdir", type=Path, metavar="DIR",
                       help="keep the virtual ECUs' flash and EEPROM in DIR/nvm, so a later run (--resume) "
                            "sees them (default: a temporary folder; every virtual ECU starts from its "
                            "factory image)")
    flash.add_argument("--no-sim", action="store_true",
                       help="do not run the bench's virtual ECUs in this process (they are served "
                            "elsewhere, e.g. by `ota-bench sim` on a vcan bus)")
    flash.set_defaults(command=_flash)

    image = commands.add_parser("image", help="build a signed image from a firmware recipe",
                                description="Build the signed image a firmware recipe describes and write it.")
    image.add_argument("recipe", type=Path, metavar="RECIPE.yaml", help="firmware recipe")
    image.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.bin", help="image file to write")
    image.set_defaults(command=_image)
    return parser


# -- list ------------------------------------------------------------------------------------

def _list(args: argparse.Namespace) -> int:
    config = load_bench(args.bench)
    print(f"bench {config.name}  ({config.source})")
    print()
    print(_table(["BUS", "INTERFACE", "CHANNEL", "CAN", "BITRATE"],
                 [[name, bus.interface, str(bus.channel), "FD" if bus.fd else "classic", _bitrate(bus)]
                  for name, bus in config.buses.items()]))
    print()
    rows = []
    for name, ecu in config.ecus.items():
        profile = config.profiles[ecu.profile]
        rows.append([name, ecu.bus, _can_id(ecu, ecu.request_id), _can_id(ecu, ecu.response_id),
                     _can_id(ecu, ecu.functional_id), ecu.profile, profile.bootloader,
                     "virtual" if ecu.virtual is not None else "real", ecu.power or "- (always on)"])
    print(_table(["ECU", "BUS", "REQUEST", "RESPONSE", "FUNCTIONAL", "PROFILE", "BOOTLOADER", "KIND", "POWER"],
                 rows))
    return EXIT_OK


def _bitrate(bus: BusConfig) -> str:
    text = f"{bus.bitrate // 1000} kbit/s"
    if bus.fd and bus.data_bitrate:
        text += f", data {bus.data_bitrate // 1000} kbit/s"
    return text


def _can_id(ecu: EcuConfig, can_id: int) -> str:
    return f"0x{can_id:08X}" if ecu.extended_id else f"0x{can_id:03X}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in [header, *rows])


# -- sim -------------------------------------------------------------------------------------

def _sim(args: argparse.Namespace) -> int:
    config = load_bench(args.bench)
    ecu = _ecu_config(config, args.ecu)
    if ecu.virtual is None:
        raise ConfigError(f"ECU {args.ecu!r} is a real ECU (no 'virtual:' section): nothing to simulate",
                          file=str(config.source))
    nvm_dir = args.nvm if args.nvm is not None else SIM_NVM_ROOT / args.ecu
    bus = config.buses[ecu.bus]
    if args.slcan is not None and bus.fd:
        raise ConfigError(f"--slcan: ECU {args.ecu!r} is on CAN FD bus {ecu.bus!r}; SLCAN carries classic CAN only",
                          file=str(config.source))
    channel = Bench(config, workdir=nvm_dir, isolate=args.isolate).channel(ecu.bus)
    sim = build_virtual_ecu(config, args.ecu, nvm_dir=nvm_dir, channel=channel)
    supply = VirtualSupply(ecu.power or f"{args.ecu}-supply",
                           nominal_voltage=config.power[ecu.power].nominal_voltage if ecu.power else 13.5)
    supply.attach(sim.supply_changed)
    stop = threading.Event()
    slcan = _slcan_bridge(args.slcan, lambda: open_bus(ecu.bus, bus, channel=channel)) if args.slcan else nullcontext()
    with slcan as bridge, _stop_on_signals(stop):
        supply.on()  # opens the bus: a BenchFault here means the interface/channel is not there
        try:
            print(f"{args.ecu}: virtual ECU listening on bus {ecu.bus!r} ({bus.interface} channel "
                  f"{channel!r}, {'CAN FD' if bus.fd else 'classic CAN'}), request {_can_id(ecu, ecu.request_id)}, "
                  f"functional {_can_id(ecu, ecu.functional_id)}, response {_can_id(ecu, ecu.response_id)}; "
                  f"{f'served over SLCAN at {bridge.url} (python-can interface slcan); ' if bridge else ''}"
                  f"NVM in {nvm_dir}; supply {supply.name} on; Ctrl-C or SIGTERM stops it", flush=True)
            if bus.interface == "virtual" and bridge is None:
                print(f"note: {_VIRTUAL_NOTE}", file=sys.stderr, flush=True)
            while not stop.wait(0.2) and sim.fault is None:
                pass
        finally:
            supply.off()  # returns once the simulator's threads have stopped
    if sim.fault is not None:
        raise BenchFault(f"virtual ECU {args.ecu} crashed: {sim.fault!r}")
    print(f"{args.ecu}: stopped", flush=True)
    return EXIT_OK


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


# -- flash -----------------------------------------------------------------------------------

def _flash(args: argparse.Namespace) -> int:
    config = load_bench(args.bench)
    _ecu_config(config, args.ecu)
    image = _load_image(args.image)
    if args.no_sim:
        config = config.model_copy(update={"ecus": {name: ecu.model_copy(update={"virtual": None})
                                                    for name, ecu in config.ecus.items()}})
    delta = _delta_package(config, args.ecu, args.delta_from, args.image, image) if args.delta_from else None
    with _workdir(args.workdir) as workdir, Bench(config, workdir=workdir) as rig:
        handle = rig.ecu(args.ecu)
        print(f"{args.ecu}: flashing {image.header.version} ({len(image.to_bytes())} B)"
              f"{' with resume' if args.resume else ''}"
              f"{f', or the delta package {delta.describe()}' if delta else ''}", flush=True)
        failure: str | None = None
        try:
            with terminal_progress("TransferData") as progress:  # a bar on a person's terminal, not in CI logs
                result = handle.flasher.flash(image, resume=args.resume, progress=progress, delta=delta)
        except FlashError as exc:
            if exc.result is not None:
                print(exc.result.timeline.render())  # type: ignore[attr-defined]
            failure = str(exc)
        except (InvalidResponseException, UnexpectedResponseException) as exc:
            failure = f"{args.ecu}: malformed or unexpected response: {exc}"
        else:
            print(result.timeline.render())
            if result.resumed_from:
                print(f"resumed from offset {result.resumed_from:#x}")
            print(f"{args.ecu}: version {result.version_after}")  # the flashed one: any other raised FlashError
        faults = rig.faults()
    if faults:  # a crashed simulator explains any ECU "failure": report the bench, not the ECU
        raise BenchFault("; ".join(faults))
    if failure:
        _error(f"ECU failure: {failure}")
        return EXIT_ECU_FAILED
    return EXIT_OK


def _load_image(path: Path) -> FirmwareImage:
    if path.suffix.lower() in (".yaml", ".yml"):
        return build_image(path)
    try:
        return FirmwareImage.from_bytes(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read image: {exc.strerror or exc}", file=str(path)) from None
    except ImageFormatError as exc:
        raise ConfigError(f"not an image built by `ota-bench image` (or a recipe .yaml): {exc}",
                          file=str(path)) from None


def _delta_package(config: BenchConfig, ecu: str, base: Path, target: Path, image: FirmwareImage) -> DeltaPackage:
    """The delta package from ``base`` to ``image`` for ECU ``ecu``, signed with ``target``'s recipe key."""
    profile_name = config.ecus[ecu].profile
    if config.profiles[profile_name].delta is None:
        raise ConfigError(f"--delta-from: ECU {ecu!r} takes no delta packages (its profile {profile_name!r} has no "
                          "'delta:' section)", file=str(config.source or ""))
    if target.suffix.lower() not in (".yaml", ".yml"):
        raise ConfigError("--delta-from needs --image to be a firmware recipe (.yaml): its signing key signs the "
                          "package", file=str(target))
    key = load_private_key(load_recipe(target).signing_key)
    return create_delta_package(_load_image(base), image, private_key=key,
                                layout=PatchLayout.for_profile(config.profiles[profile_name]))


@contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="ota-bench-") as temporary:
        yield Path(temporary)


# -- image -----------------------------------------------------------------------------------

def _image(args: argparse.Namespace) -> int:
    image = build_image(args.recipe)
    data = image.to_bytes()
    try:
        args.output.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write image: {exc.strerror or exc}", file=str(args.output)) from None
    header = image.header
    print(f"version          {header.version}")
    print(f"security version {header.security_version}")
    print(f"size             {len(data)} B (header {len(data) - header.payload_length} B + payload "
          f"{header.payload_length} B)")
    print(f"header digest    {image.header_digest.hex()}  (SHA-256 of the header; the download journal's id)")
    print(f"payload sha256   {header.payload_sha256.hex()}")
    print(f"key id           {header.key_id.hex()}")
    print(f"written to       {args.output}")
    return EXIT_OK


# -- helpers ---------------------------------------------------------------------------------

def _ecu_config(config: BenchConfig, name: str) -> EcuConfig:
    if name not in config.ecus:
        raise ConfigError(f"no ECU named {name!r} on bench {config.name!r}; it has: {', '.join(config.ecus)}",
                          file=str(config.source or ""))
    return config.ecus[name]


def _error(message: str) -> None:
    print(f"ota-bench: error: {message}", file=sys.stderr, flush=True)

