"""The HTML report's size, from a sample of the catalog, extrapolated to the whole catalog.

Runs a reproducible sample of the shipped catalogs (``--scenario-sample N --seed 0``, two
workers) into Allure results, generates the single-file report as ``make report`` does, then
again with half the passed results left out: the difference is what one more passed result
costs; the whole catalog's report is the sample's plus that cost for every other scenario (the
rest taken as passing; each failure adds its evidence, listed apart).

A measurement, not a test: prints, never asserts. Needs Allure 3 in .node/ (``make test``).

    .venv/bin/python benchmarks/report_size.py [--sample 60] [--catalog 3343] [--results DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ALLURE = REPO / ".node" / "node_modules" / ".bin" / "allure"
CONFIG = REPO / "reports" / "allurerc.mjs"


def run_sample(sample: int, results: Path) -> None:
    subprocess.run([sys.executable, "-m", "pytest", str(REPO / "testcases" / "scenarios"), "-q", "-n", "2",
                    "-p", "no:cacheprovider", "--scenario-sample", str(sample), "--seed", "0",
                    "--alluredir", str(results), "--clean-alluredir"], cwd=REPO, check=False,
                   stdout=subprocess.DEVNULL)


def report_size(results: Path, output: Path) -> int:
    shutil.rmtree(output, ignore_errors=True)
    subprocess.run([str(ALLURE), "generate", "--config", str(CONFIG), str(results), "--output", str(output)],
                   check=True, capture_output=True)
    return (output / "index.html").stat().st_size


def without(results: Path, copy: Path, drop: list[Path]) -> Path:
    """``results`` copied to ``copy`` without the results ``drop`` and their attachments."""
    shutil.rmtree(copy, ignore_errors=True)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=60)
    parser.add_argument("--catalog", type=int, default=3343, help="scenarios in the whole catalog")
    parser.add_argument("--results", type=Path, help="measure these Allure results instead of running a sample")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        results = args.results or work / "results"
        if args.results is None:
            run_sample(args.sample, results)
        outcomes = {path: json.loads(path.read_text())["status"] for path in results.glob("*-result.json")}
        passed = sorted(path for path, status in outcomes.items() if status == "passed")
        failed = sorted(path for path, status in outcomes.items() if status != "passed")
        whole = report_size(results, work / "whole")
        half = report_size(without(results, work / "half", passed[: len(passed) // 2]), work / "half-report")
        per_passed = (whole - half) / (len(passed) // 2)
        per_failed = ((whole - report_size(without(results, work / "nofail", failed), work / "nofail-report"))
                      / len(failed)) if failed else 0.0
        estimate = whole + (args.catalog - len(outcomes)) * per_passed
    print(f"sample: {len(outcomes)} results ({len(passed)} passed, {len(failed)} failed); report {whole / 1e6:.2f} MB")
    print(f"one more passed result: {per_passed / 1e3:.1f} KB; a failed one: {per_failed / 1e3:.1f} KB")
    print(f"whole catalog ({args.catalog} scenarios, the rest passing): {estimate / 1e6:.1f} MB"
          f" (+{per_failed / 1e6:.2f} MB per further failure)")


if __name__ == "__main__":
    main()
