"""One Allure result folder from the folders of several shards, for one report::

    python -m bench.nightly.merge reports/allure-results shard-0/allure-results shard-1/allure-results
    make report          # reports/allure-results -> reports/allure-report/index.html

Each shard's test results, containers and attachments are copied (their names are UUIDs: they
never clash). What a shard's controller wrote about its own part is left out: ``categories.json``,
``environment.properties`` and its run attachments (``*-globals.json``: the shard's outcome
matrix). They are written again for the whole run: the categories once, the environment of all
shards (a property whose value differs between shards lists each value; ECU versions are
united), and the outcome matrix of every scenario, into ``--matrix-dir`` and attached to the run.
The output folder must be new or empty: a merge never mixes in an earlier run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.errors import ConfigError
from bench.report.categories import write_categories
from bench.report.compliance import CLAIMS_FILE, ComplianceMatrix, merge_claims, read_claims, write_claims
from bench.report.environment import write_properties
from bench.report.matrix import OutcomeMatrix
from bench.report.matrix_files import MATRIX_STEM, REPORTS_DIR, write_compliance, write_matrix
from bench.report.environment import git_revision
from bench.report.results import attach_to_run, latest_results
from bench.report.trend_run import record_and_trend, run_name_now
from bench.scenarios.requirements import REQUIREMENTS_DIR, load_requirements

ENVIRONMENT = "environment.properties"
CATEGORIES = "categories.json"
GLOBALS_SUFFIX = "-globals.json"
VERSIONS = re.compile(r"ecu\..+\.versions")
"""``ecu.<name>.versions``: the ECU versions a shard saw (``bench.report.environment``)."""
_PROPERTY = re.compile(r"((?:[^\\=]|\\.)*)=(.*)")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")


def merge_shards(output: Path, shards: Sequence[Path], matrix_dir: Path,
                 requirements_dir: Path = REQUIREMENTS_DIR) -> int:
    """Merge ``shards`` into ``output``; returns how many test results it holds."""
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f"{output} is not empty; merge into a new folder")
    output.mkdir(parents=True, exist_ok=True)
    environments, claims = [], []
    for shard in shards:
        if not shard.is_dir():
            raise FileNotFoundError(f"no shard results in {shard}")
        shard_only = {CATEGORIES, ENVIRONMENT, CLAIMS_FILE}
        for path in shard.glob(f"*{GLOBALS_SUFFIX}"):
            shard_only.add(path.name)
            shard_only.update(item["source"] for item in json.loads(path.read_text()).get("attachments", []))
        for path in sorted(shard.iterdir()):
            if path.is_file() and path.name not in shard_only:
                if (output / path.name).exists():
                    raise FileExistsError(f"{path.name} is in two shards")
                shutil.copy2(path, output / path.name)
        if (shard / ENVIRONMENT).is_file():
            environments.append(read_properties(shard / ENVIRONMENT))
        claims.append(read_claims(shard))
    write_categories(output)
    write_properties(output / ENVIRONMENT, {**merge_properties(environments), "shards": str(len(shards))})
    matrix = OutcomeMatrix.from_results(latest_results(output))
    if matrix:
        written = write_matrix(matrix, matrix_dir)
        attach_to_run(output, [(f"Outcome matrix ({path.suffix[1:].upper()})", path) for path in written])
    catalog = load_requirements(requirements_dir)
    if catalog.requirements:
        merged = merge_claims(claims)
        write_claims(output, merged)
        written = write_compliance(ComplianceMatrix.from_results(catalog, latest_results(output), merged), matrix_dir)
        attach_to_run(output, [(f"Compliance matrix ({path.suffix[1:].upper()})", path) for path in written])
    return len(list(output.glob("*-result.json")))


def read_properties(path: Path) -> dict[str, str]:
    """A properties file as ``bench.report.environment.write_properties`` writes it."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PROPERTY.fullmatch(line)
        if match and not line.startswith(("#", "!")):
            found[_unescape(match[1])] = _unescape(match[2])
    return found


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match[1]
        if len(code) == 5:
            return chr(int(code[1:], 16))
        return {"n": "\n", "r": "\r", "t": "\t"}.get(code, code)

    return _ESCAPE.sub(one, text).encode("utf-16", "surrogatepass").decode("utf-16")


def merge_properties(shards: Sequence[dict[str, str]]) -> dict[str, str]:
    """One environment from the shards': a value they share as it is, different values listed
    (``a | b``), the ECU versions of every shard in one list."""
    values: dict[str, list[str]] = {}
    for properties in shards:
        for key, value in properties.items():
            if value not in values.setdefault(key, []):
                values[key].append(value)
    merged = {}
    for key, seen in values.items():
        if VERSIONS.fullmatch(key):
            merged[key] = ", ".join(sorted({version for value in seen for version in value.split(", ")}))
        else:
            merged[key] = " | ".join(seen)
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nightly.merge", description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="the merged folder (new or empty), e.g. reports/allure-results")
    parser.add_argument("shards", type=Path, nargs="+", help="each shard's --alluredir")
    parser.add_argument("--matrix-dir", type=Path, default=REPORTS_DIR,
                        help=f"where the merged {MATRIX_STEM}.{{html,png,csv}} go (default: %(default)s)")
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS_DIR,
                        help="the requirement catalogs of the compliance matrix (default: %(default)s)")
    parser.add_argument("--history", type=Path, default=None, metavar="DIR",
                        help="record the merged run in this history and write its trends (reports/history in CI)")
    parser.add_argument("--trend-window", type=int, default=7, metavar="N", help="runs of the trends (default 7)")
    parser.add_argument("--run-name", default=None, metavar="NAME",
                        help="the run's name in the history (default: now, UTC)")
    args = parser.parse_args(argv)
    if args.trend_window < 2:
        parser.error("--trend-window: at least 2 runs (a change needs two)")
    try:
        count = merge_shards(args.output, args.shards, args.matrix_dir, args.requirements)
        if args.history is not None:
            found, _ = record_and_trend(args.output, args.history, window=args.trend_window,
                                        run=args.run_name or run_name_now(),
                                        revision=git_revision(Path.cwd()) or "", reports=args.matrix_dir)
            print(found.summary())
    except ConfigError as exc:
        print(f"merge: {exc}", file=sys.stderr)
        return 2
    except (FileExistsError, FileNotFoundError) as exc:
        print(f"merge: {exc}", file=sys.stderr)
        return 2
    print(f"merged {count} test results of {len(args.shards)} shards into {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
