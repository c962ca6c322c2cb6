"""The HTML report's size, from a sample of the catalog, extrapolated to the whole catalog.

Runs a reproducible sample of the shipped catalogs (``--scenario-sample N --seed 0``, two
workers) into Allure results and generates the single-file report as ``make report`` does; then,
for each catalog of the sample, again without half its passed results (at least one): the
difference is what one more passed result of that catalog costs (a vehicle campaign's result
carries a PNG timeline, a network fault's does not). The whole catalog's report is the sample's
plus, for each catalog, that cost for each of its scenarios not in the sample (taken as passing;
each failure adds its evidence, listed apart). The sample takes as many scenarios of a small
catalog as of a large one, so the catalogs are weighted by their size in the catalog, which
``pytest --collect-only`` counts. Each size is measured twice: as Allure writes the file, and
packed as ``make report`` leaves it (bench/report/packed_html.py). With ``--nights N``, the
report is that of the Nth night: it carries the history of the N-1 nights before (Allure's history
file, as ``make campaign`` leaves it night after night; each result lists its earlier results, up to
the 30 of ``historyLimit``, and the report holds the latest 6 runs whole), made of the sample's
results (or of ``--earlier-runs``, in turn) with new ids and times.

A measurement, not a test: prints, never asserts. Needs Allure 3 in .node/ (``make test``).

    .venv/bin/python benchmarks/report_size.py [--sample 60] [--results DIR] [--nights N [--earlier-runs DIR ...]]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from statistics import median

from bench.report.packed_html import pack_file

REPO = Path(__file__).resolve().parents[1]
ALLURE = REPO / ".node" / "node_modules" / ".bin" / "allure"
CONFIG = REPO / "reports" / "allurerc.mjs"
DAY_MS = 86_400_000


def run_sample(sample: int, results: Path) -> None:
    subprocess.run([sys.executable, "-m", "pytest", str(REPO / "testcases" / "scenarios"), "-q", "-n", "2",
                    "-p", "no:cacheprovider", "--scenario-sample", str(sample), "--seed", "0",
                    "--alluredir", str(results), "--clean-alluredir"], cwd=REPO, check=False,
                   stdout=subprocess.DEVNULL)


def generate(results: Path, output: Path, history: Path) -> None:
    subprocess.run([str(ALLURE), "generate", "--config", str(CONFIG), str(results), "--output", str(output)],
                   check=True, capture_output=True, env={**os.environ, "ALLURE_HISTORY": str(history)})


def as_night(results: Path, copy: Path, nights_before: int) -> Path:
    """``results`` copied to ``copy`` as if run ``nights_before`` nights earlier: each result with a
    uuid of its own, its times and its steps' that many days back."""
    shutil.copytree(results, copy)
    for path in copy.glob("*-result.json"):
        result = json.loads(path.read_text())
        result["uuid"] = str(uuid.uuid4())
        stack = [result]
        while stack:
            node = stack.pop()
            for key in ("start", "stop"):
                if key in node:
                    node[key] -= nights_before * DAY_MS
            stack += node.get("steps", [])
        path.unlink()
        (copy / f"{result['uuid']}-result.json").write_text(json.dumps(result))
    return copy


def history_of(nights: list[Path], work: Path) -> Path:
    """Allure's history file once the report of each of ``nights`` (oldest first) has been made."""
    history = work / "allure-history.jsonl"
    history.touch()
    for number, night in enumerate(nights):
        generate(night, work / f"night-{number}", history)
        shutil.rmtree(work / f"night-{number}")
    return history


def report_sizes(results: Path, history: Path, work: Path, drop: set[str]) -> tuple[int, int]:
    """Bytes of the report of ``results`` with ``history`` (Allure's history file) as Allure writes
    it, and packed; without the tests named ``drop``, in the results and in the history."""
    kept = without(results, work / "results", [path for path in results.glob("*-result.json")
                                               if json.loads(path.read_text())["name"] in drop])
    runs = [json.loads(line) for line in history.read_text().splitlines()]
    for run in runs:
        run["testResults"] = {key: test for key, test in run["testResults"].items() if test["name"] not in drop}
    (work / "history.jsonl").write_text("".join(json.dumps(run) + "\n" for run in runs))
    generate(kept, work / "report", work / "history.jsonl")
    return pack_file(work / "report" / "index.html")


def without(results: Path, copy: Path, drop: list[Path]) -> Path:
    """``results`` copied to ``copy`` without the results ``drop`` and their attachments."""
    shutil.copytree(results, copy)
    for path in drop:
        result = json.loads(path.read_text())
        stack = [result]
        while stack:
            node = stack.pop()
            for attachment in node.get("attachments", []):
                (copy / attachment["source"]).unlink(missing_ok=True)
            stack += node.get("steps", [])
        (copy / path.name).unlink()
    return copy


def catalog_sizes() -> Counter[str]:
    """Scenarios of each catalog (by campaign name) of testcases/scenarios."""
    listed = subprocess.run([sys.executable, "-m", "pytest", str(REPO / "testcases" / "scenarios"), "--collect-only",
                             "-q", "-n", "0", "-p", "no:cacheprovider"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout
    return Counter(line.split("::", 1)[1].split("[", 1)[0] for line in listed.splitlines() if "::" in line)


def campaign_of(result: Path) -> str:
    return json.loads(result.read_text())["name"].split("[", 1)[0]


def kilobytes(sizes: tuple[float, float]) -> str:
    return f"{sizes[0] / 1e3:7.2f} KB {sizes[1] / 1e3:6.2f} KB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=60)
    parser.add_argument("--results", type=Path, help="measure these Allure results instead of running a sample")
    parser.add_argument("--nights", type=int, default=1, metavar="N",
                        help="measure the report of the Nth night: with the history of N-1 nights before it")
    parser.add_argument("--earlier-runs", type=Path, nargs="+", default=[], metavar="DIR",
                        help="Allure results of other runs of the same sample, taken in turn as the nights "
                             "before (default: the results themselves), each with new ids and times")
    args = parser.parse_args()
    catalog = catalog_sizes()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        results = args.results or work / "results"
        if args.results is None:
            run_sample(args.sample, results)
        outcomes = {path: json.loads(path.read_text())["status"] for path in results.glob("*-result.json")}
        passed = sorted(path for path, status in outcomes.items() if status == "passed")
        failed = sorted(path for path, status in outcomes.items() if status != "passed")
        sources = args.earlier_runs or [results]
        history = history_of([as_night(sources[night % len(sources)], work / f"earlier-{night}", args.nights - night)
                              for night in range(1, args.nights)], work)
        names = {path: json.loads(path.read_text())["name"] for path in outcomes}
        (work / "whole").mkdir()
        whole = report_sizes(results, history, work / "whole", set())
        per_result: dict[str, tuple[float, float]] = {}
        for campaign in sorted({campaign_of(path) for path in passed} & catalog.keys()):
            ours = [path for path in passed if campaign_of(path) == campaign]
            dropped = {names[path] for path in ours[: max(1, len(ours) // 2)]}
            (work / campaign).mkdir()
            less = report_sizes(results, history, work / campaign, dropped)
            per_result[campaign] = (((whole[0] - less[0]) / len(dropped), (whole[1] - less[1]) / len(dropped)))
        (work / "nofail").mkdir()
        nofail = report_sizes(results, history, work / "nofail", {names[path] for path in failed}) if failed else whole
    if not per_result:
        sys.exit(f"no passed result of a catalog of testcases/scenarios in {results}: nothing to extrapolate from")
    sampled = Counter(campaign_of(path) for path in outcomes)
    print(f"sample: {len(outcomes)} results ({len(passed)} passed, {len(failed)} failed), "
          f"the report of night {args.nights} (with the history of the {args.nights - 1} before)")
    print(f"{'one more passed result of':28} {'scenarios':>9} {'sampled':>7} {'Allure':>10} {'packed':>9}")
    for campaign, cost in per_result.items():
        print(f"{campaign:28} {catalog[campaign]:9} {sampled[campaign]:7} {kilobytes(cost)}")
    missing = sorted(catalog.keys() - per_result.keys())
    if missing:
        print(f"not measured (no passed result in the sample), taken at the median catalog's cost: "
              f"{', '.join(missing)}")
    typical = tuple(median(cost[form] for cost in per_result.values()) for form in (0, 1))
    for form, name in enumerate(("Allure's file", "packed")):
        estimate = whole[form] + sum((catalog[campaign] - sampled[campaign])
                                     * per_result.get(campaign, typical)[form] for campaign in catalog)
        per_failed = (whole[form] - nofail[form]) / len(failed) if failed else 0.0
        print(f"{name}: sample's report {whole[form] / 1e6:.2f} MB; whole catalog ({sum(catalog.values())} "
              f"scenarios, the rest passing) {estimate / 1e6:.1f} MB, {estimate / sum(catalog.values()) / 1e3:.1f} KB "
              f"a result; a failed result {per_failed / 1e3:.1f} KB")

if __name__ == "__main__":
    main()
