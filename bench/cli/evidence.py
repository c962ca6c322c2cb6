"""``ota-bench evidence pack|verify``: a run as one archive for a technical service, and the check
of such an archive against its SHA-256 manifest (``bench.report.bundle``).

    ota-bench evidence pack [-o reports/evidence.zip]     after `make run` (or a nightly merge + `make report`)
    ota-bench evidence verify ARCHIVE                     exit 0 intact, 1 a file changed, missing or added

``pack`` takes the HTML report, the Allure results, the matrices and trends under ``reports/``, the
requirement catalogs, the scenario catalogs, the bench files the run names in its
``environment.properties`` (or ``--bench``) and the run's software versions and git revision.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bench.cli.common import EXIT_ECU_FAILED, EXIT_OK, error
from bench.errors import ConfigError
from bench.nightly.merge import ENVIRONMENT, read_properties
from bench.report.bundle import BundleContents, pack, verify
from bench.report.environment import framework_version, git_revision
from bench.report.matrix_files import REPORTS_DIR
from bench.scenarios.requirements import REQUIREMENTS_DIR

RUN_FILES = ("outcome-matrix.*", "compliance-matrix.*", "trends.*")
"""What a run leaves under ``reports/`` besides the results and the HTML report."""
_BENCH_PATH = re.compile(r".*\((?P<path>[^()]+)\)")
"""``environment.properties``' ``bench``: ``name (path)``, several joined by `` | `` after a merge."""


def register(commands: argparse._SubParsersAction, bench_file: argparse.ArgumentParser) -> None:
    evidence = commands.add_parser("evidence", help="pack a run into one archive with a SHA-256 manifest, "
                                                    "or verify one",
                                   description="Pack a run for a technical service, or verify such an archive.")
    actions = evidence.add_subparsers(title="actions", required=True, metavar="ACTION")
    packing = actions.add_parser("pack", help="pack the last run (reports/) into one archive")
    packing.add_argument("-o", "--output", type=Path, default=REPORTS_DIR / "evidence.zip", metavar="ARCHIVE.zip",
                         help="archive to write (default: %(default)s)")
    packing.add_argument("--reports", type=Path, default=REPORTS_DIR, metavar="DIR",
                         help="where the run wrote (default: %(default)s)")
    packing.add_argument("--results", type=Path, default=None, metavar="DIR",
                         help="its Allure results (default: REPORTS/allure-results)")
    packing.add_argument("--report", type=Path, default=None, metavar="DIR",
                         help="its Allure HTML report (default: REPORTS/allure-report)")
    packing.add_argument("--bench", type=Path, action="append", default=None, metavar="FILE",
                         help="bench file of the run (repeat for a pool; default: those environment.properties names)")
    packing.add_argument("--catalogs", type=Path, default=Path("testcases/scenarios"), metavar="DIR",
                         help="scenario catalogs (default: %(default)s)")
    packing.add_argument("--requirements", type=Path, default=REQUIREMENTS_DIR, metavar="DIR",
                         help="requirement catalogs (default: %(default)s)")
    packing.set_defaults(command=run_pack)
    checking = actions.add_parser("verify", help="check an archive against its manifest")
    checking.add_argument("archive", type=Path, metavar="ARCHIVE.zip")
    checking.set_defaults(command=run_verify)


def run_pack(args: argparse.Namespace) -> int:
    results = args.results or args.reports / "allure-results"
    report = args.report or args.reports / "allure-report"
    for folder, what in ((results, "no Allure results here (run pytest with --alluredir)"),
                         (report, "no HTML report here (make report)")):
        if not folder.is_dir():
            raise ConfigError(what, file=str(folder))
    environment = read_properties(results / ENVIRONMENT) if (results / ENVIRONMENT).is_file() else {}
    benches = args.bench or _benches_of(environment)
    provenance = {**environment, "bundle.framework": framework_version()}
    revision = git_revision(Path.cwd())
    if revision is not None:
        provenance["bundle.git.revision"] = revision
    contents = BundleContents(parts={
        "report": [report], "results": [results],
        "matrices": sorted(path for pattern in RUN_FILES for path in args.reports.glob(pattern)),
        "requirements": sorted(args.requirements.glob("*.yaml")), "catalogs": sorted(args.catalogs.glob("*.yaml")),
        "benches": benches}, provenance=provenance)
    count = pack(contents, args.output)
    print(f"packed {count} files and their SHA-256 manifest into {args.output}")
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    result = verify(args.archive)
    for what, names in (("changed", result.changed), ("missing", result.missing),
                        ("not in the manifest", result.unlisted)):
        for name in names:
            error(f"{args.archive}: {name}: {what}")
    if not result.intact:
        return EXIT_ECU_FAILED
    print(f"{args.archive}: all {result.checked} files match the manifest")
    return EXIT_OK


def _benches_of(environment: dict[str, str]) -> list[Path]:
    return [Path(match["path"]) for part in environment.get("bench", "").split(" | ")
            if (match := _BENCH_PATH.fullmatch(part.strip()))]
