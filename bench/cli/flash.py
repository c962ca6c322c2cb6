"""``ota-bench flash --bench FILE --ecu NAME --image X`` (the bench's image) or ``--file app.hex
[--file cal.s19 ...]`` (software files, flashed as the ECU's flash specification says): flash one
ECU by hand and print the timeline. ``--resume`` continues where an earlier run stopped: an image
from the ECU's journal, software files from the tester's progress record (``--progress``)."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from udsoncan.exceptions import (InvalidResponseException, NegativeResponseException, TimeoutException,
                                 UnexpectedResponseException)

from bench.cli.common import EXIT_ECU_FAILED, EXIT_OK, EXIT_USER_ERROR, ecu_config, error
from bench.config import BenchConfig, load_bench
from bench.errors import BenchFault, ConfigError, FlashError, UsageError
from bench.flash import FlashResult
from bench.flash.block_plan import memory_map
from bench.image import (DeltaPackage, FirmwareImage, ImageFormatError, PatchLayout, build_image,
                         create_delta_package, load_private_key, load_recipe)
from bench.image.software import load_software
from bench.report.progress import terminal_progress
from bench.rig import Bench, EcuHandle

CACHE_HINT = "$XDG_CACHE_HOME (or ~/.cache)/ota-bench/flash-progress/BENCH/NAME.json"
"""Where the progress record of a real ECU's flash is kept by default (``progress_file``)."""


def register(commands: argparse._SubParsersAction, bench_file: argparse.ArgumentParser) -> None:
    flash = commands.add_parser(
        "flash", parents=[bench_file], help="flash one ECU and print the timeline",
        description="Bring up the bench (its virtual ECUs run in this process) and reprogram ECU NAME. "
                    "Exit 0 when the ECU runs the new version, 1 when it does not, 2 on a user error, "
                    "3 on a bench fault.")
    flash.add_argument("--ecu", required=True, metavar="NAME", help="ECU to flash")
    what = flash.add_mutually_exclusive_group(required=True)
    what.add_argument("--image", type=Path, metavar="FILE",
                      help="firmware recipe (.yaml) or an image built by `ota-bench image` (.bin)")
    what.add_argument("--file", type=_software_argument, action="append", metavar="FILE[@ADDRESS]",
                      help="software file (Intel HEX, S-record, VBF, or a binary with @ADDRESS, e.g. "
                           "app.bin@0x10000), flashed block by block as the ECU's flash specification says; "
                           "repeat for several files")
    flash.add_argument("--expect-version", metavar="VERSION",
                       help="with --file: the version the ECU must report afterwards (else any completed "
                            "sequence is a success)")
    flash.add_argument("--delta-from", type=Path, metavar="FILE",
                       help="recipe (.yaml) or image (.bin) of the firmware the ECU runs now: send a delta package "
                            "from it to --image (a recipe, whose key signs the package) when the ECU runs exactly "
                            "that, else the full image")
    flash.add_argument("--resume", action="store_true",
                       help="--image: continue an interrupted download from the ECU's journal when it holds this "
                            "image; --file: as the ECU's flash specification says (restart_block: at the logical "
                            "block the last run stopped in, from the progress record)")
    flash.add_argument("--progress", type=Path, metavar="FILE",
                       help="with --file: the tester's progress record of the flash (which logical blocks are "
                            "done), written after every block, read by --resume (default: "
                            "DIR/flash-progress/NAME.json with --workdir DIR or where the ECU's flash is in the "
                            "work folder (a virtual ECU, a program without its own nvm), else "
                            f"{CACHE_HINT})")
    flash.add_argument("--workdir", type=Path, metavar="DIR",
                       help="keep the virtual ECUs' flash and EEPROM in DIR/nvm, so a later run (--resume) "
                            "sees them (default: a temporary folder; every virtual ECU starts from its "
                            "factory image)")
    flash.add_argument("--no-sim", action="store_true",
                       help="do not run the bench's virtual ECUs in this process (they are served "
                            "elsewhere, e.g. by `ota-bench sim` on a vcan bus)")
    flash.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    config = load_bench(args.bench)
    ecu_config(config, args.ecu)
    if args.no_sim:
        config = config.model_copy(update={"ecus": {name: ecu.model_copy(update={"virtual": None})
                                                    for name, ecu in config.ecus.items()}})
    if args.file:
        return _run_files(args, config)
    if args.progress is not None:
        raise ConfigError("--progress applies to --file: the bench's images resume from the ECU's journal")
    spec = config.profiles[config.ecus[args.ecu].profile].flash_spec
    if not spec.takes_images:
        raise ConfigError(f"--image: ECU {args.ecu!r} is flashed by flash specification {spec.name!r}, which takes "
                          "software files, not the bench's images: give them with --file (e.g. --file app.hex)",
                          file=str(config.source))
    image = load_image(args.image)
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
        if failure:
            failure = _state_after(handle, failure)
        faults = rig.faults()
    if faults:  # a crashed simulator explains any ECU "failure": report the bench, not the ECU
        raise BenchFault("; ".join(faults))
    if failure:
        error(f"ECU failure: {failure}")
        return EXIT_ECU_FAILED
    return EXIT_OK


def _software_argument(text: str) -> tuple[Path, int | None]:
    """``app.hex`` or ``app.bin@0x10000``: a software file and, for a raw binary, its address."""
    path, at, address = text.rpartition("@") if "@" in text else (text, "", "")
    try:
        return Path(path), int(address, 0) if at else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"{address!r} is not an address (write e.g. app.bin@0x10000)") from None


def _run_files(args: argparse.Namespace, config: BenchConfig) -> int:
    """Flash software files with the ECU's flash specification, as ``run`` flashes an image."""
    if args.delta_from:
        raise ConfigError("--delta-from applies to --image: software files are flashed as they are")
    profile = config.profiles[config.ecus[args.ecu].profile]
    ranges = [(region.address, region.size) for region in memory_map(profile)] or None
    software = [load_software(path, base_address=address, memory_map=ranges) for path, address in args.file]
    with _workdir(args.workdir) as workdir, \
            Bench(config, workdir=workdir, flash_progress={args.ecu: progress_file(args, config, workdir)}) as rig:
        handle = rig.ecu(args.ecu)
        print(f"{args.ecu}: flashing {', '.join(f'{s.path.name} ({s.format}, {len(s.blocks)} blocks, {s.size} B)' for s in software)} "
              f"with flash specification {profile.flash_spec.name!r}", flush=True)
        failure: str | None = None
        try:
            with terminal_progress("flash") as progress:
                result = handle.flasher.flash_software(software, resume=args.resume, progress=progress,
                                                       expect_version=args.expect_version)
        except FlashError as exc:
            if exc.result is not None:
                _print_flash(exc.result, args.resume)  # type: ignore[arg-type]
            failure = str(exc)
        except UsageError as exc:  # the spec refused the ECU (hardware number...), or a broken progress record
            if handle.flasher.results:
                print(handle.flasher.results[-1].timeline.render())
            error(str(exc))
            return EXIT_USER_ERROR
        else:
            _print_flash(result, args.resume)
            print(f"{args.ecu}: version {result.version_after}")
        if failure:
            failure = _state_after(handle, failure)
        faults = rig.faults()
    if faults:
        raise BenchFault("; ".join(faults))
    if failure:
        error(f"ECU failure: {failure}")
        return EXIT_ECU_FAILED
    return EXIT_OK


def _print_flash(result: FlashResult, resume: bool) -> None:
    print(result.timeline.render())
    if resume and result.resume_note:
        print(result.resume_note)  # "resumed at logical block 1 (calibration 0x00080000): ..." or why not


def progress_file(args: argparse.Namespace, config: BenchConfig, workdir: Path) -> Path:
    """Where the ECU's flash progress is kept: ``--progress``; else in the work folder when given
    (``--workdir``) or when the ECU's flash is there (a virtual ECU served by this process, a program
    the bench starts with no ``nvm`` folder of its own: flash and record go together with a
    temporary work folder, so a fresh ECU is never resumed in the middle); else, for a real ECU,
    whose flash outlives any run (and the next run may come after the tester restarted), in the
    user's cache, per bench and ECU."""
    if args.progress is not None:
        return args.progress
    ecu = config.ecus[args.ecu]
    program = config.power[ecu.power].process if ecu.power in config.power else None
    if args.workdir is not None or ecu.virtual is not None or (program is not None and program.nvm is None):
        return workdir / "flash-progress" / f"{args.ecu}.json"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "ota-bench" / "flash-progress" / config.name / f"{args.ecu}.json"


ANSWERS_WITHIN = 2.0
"""Seconds an ECU may take to answer again after a failed step before it is said to be silent."""


def _state_after(handle: EcuHandle, failure: str) -> str:
    """The failure, with 'the ECU is unpowered' added when it is; otherwise what it runs now is printed."""
    unpowered = handle.unpowered()
    if unpowered:
        return f"{failure}; {unpowered}"
    print(after_failure(handle), flush=True)
    return failure


def after_failure(handle: EcuHandle) -> str:
    """What the ECU runs now and its state, in words, once a flash has failed (a late answer to
    the failed request is dropped first, never taken for the version)."""
    try:
        handle.diagnostics.wait_responsive(ANSWERS_WITHIN)
        version = handle.diagnostics.read_version()
    except (TimeoutException, NegativeResponseException, InvalidResponseException,
            UnexpectedResponseException) as exc:
        return f"{handle.name} after the failure: no answer ({type(exc).__name__}: {exc})"
    runs = (f"{handle.name} now holds no valid application: its bootloader waits for a valid image (flash one)"
            if version is None else f"{handle.name} now runs version {version}")
    return f"{runs}; {handle.diagnostics.describe()}"


def load_image(path: Path) -> FirmwareImage:
    """The bench's image from a recipe (.yaml, built now) or an image file built by ``ota-bench image``."""
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
    return create_delta_package(load_image(base), image, private_key=key,
                                layout=PatchLayout.for_profile(config.profiles[profile_name]))


@contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="ota-bench-") as temporary:
        yield Path(temporary)
