"""The command line, ``ota-bench`` (also ``python -m bench``): what is not a test.

    ota-bench list  --bench FILE                           what the bench file describes
    ota-bench sim   --bench FILE --ecu NAME [--slcan H:P]  serve one virtual ECU on its bus [and over SLCAN/TCP]
                    [--write-bench TESTER.yaml]            [and write the bench file that reaches it]
    ota-bench flash --bench FILE --ecu NAME --image X      flash one ECU by hand [--delta-from BASE]
    ota-bench image build RECIPE.yaml -o OUT.bin           build a signed test image (also: image RECIPE -o OUT)
    ota-bench image info FILE [--base-address A]           a software file's format, header, blocks, checksums
    ota-bench evidence pack|verify                         a run as one archive with a SHA-256 manifest
    ota-bench campaign --bench FILE --manifest M --key PUB --nvm DIR
                                                           the reference update master on ECUs reached by bus

One module per command, each with ``register(commands, bench_file)`` and ``run(args)``; a new
command is a new module and one entry in ``COMMANDS``.

Exit codes: 0 success, 1 the ECU failed (``FlashError``; for ``evidence verify``: the archive does
not match its manifest), 2 a user error (``UsageError``, ``ConfigError``,
bad arguments), 3 a fault of the bench (``BenchFault``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from bench.cli import campaign, evidence, flash, image, list_bench, sim
from bench.cli.common import EXIT_BENCH_FAULT, EXIT_INTERRUPTED, EXIT_OK, EXIT_USER_ERROR, error
from bench.errors import BenchFault, UsageError

COMMANDS = (list_bench, sim, flash, image, evidence, campaign)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (the console script passes it to ``sys.exit``)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return it, never exit from here
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    configure_logging(args.verbose)
    try:
        return args.command(args)
    except UsageError as exc:  # a ConfigError too
        error(str(exc))
        return EXIT_USER_ERROR
    except BenchFault as exc:
        error(f"bench fault (not a finding about the ECU): {exc}")
        return EXIT_BENCH_FAULT
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED


class _DecodedByTheCommand(logging.Filter):
    """udsoncan logs each negative response as an error (``[NegativeResponseException] : ...``);
    the commands expect some (a version read while an ECU is in its bootloader) and say in words
    what the others mean, so those lines are shown with -v only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("UdsClient")


def configure_logging(verbose: int) -> None:
    """-v: what the libraries do (-vv: every request); else warnings and errors on stderr, without
    udsoncan's line for each negative response (``_DecodedByTheCommand``)."""
    if verbose:
        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO,
                            format="%(relativeCreated)8.0f ms %(levelname)-7s %(name)s: %(message)s")
        return
    handler = logging.StreamHandler()
    handler.addFilter(_DecodedByTheCommand())
    logging.basicConfig(level=logging.WARNING, format="ota-bench: %(name)s: %(message)s", handlers=[handler])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ota-bench", description="Bench tools that are not tests: list a bench, serve a virtual ECU, "
                                      "flash an ECU by hand, build a signed test image, pack or verify a run's "
                                      "evidence, run a vehicle campaign.",
        epilog="exit codes: 0 ok, 1 ECU failure (evidence verify: the archive changed), 2 user error (bad file or "
               "arguments), 3 bench fault")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log what the libraries do (-vv: every UDS request and ISO-TP event)")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    bench_file = argparse.ArgumentParser(add_help=False)
    bench_file.add_argument("--bench", required=True, type=Path, metavar="FILE", help="bench file (YAML)")
    for command in COMMANDS:
        command.register(commands, bench_file)
    return parser
