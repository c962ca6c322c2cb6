"""Catalog scenarios: how many per minute, and whether memory grows with their number.

(a) rate: the same reproducible sample of the shipped catalogs run by pytest serially and with
    ``-n auto``; scenarios per minute and the projected time for the whole catalog;
(b) memory: scenarios run one after another in this process with the runner the plugin uses;
    peak RSS after the first ``--small`` and after ``--large`` of them.

A measurement, not a test: prints, never asserts.

    .venv/bin/python benchmarks/scenarios.py [--sample 200] [--small 100] [--large 1000] [--every 100]
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.config import load_bench
from bench.image.builders import delta_builder, firmware_builder
from bench.scenarios.campaign_catalog import ecu_catalogs
from bench.scenarios.catalog import load_catalog
from bench.scenarios.runner import play

REPO = Path(__file__).resolve().parents[1]
CATALOGS = REPO / "testcases" / "scenarios"
BENCH_FILE = REPO / "fixtures" / "benches" / "virtual.yaml"


def rate(sample: int, workers: str | None) -> float:
    """Scenarios per minute for a pytest run of ``sample`` scenarios (seed 0)."""
    command = [sys.executable, "-m", "pytest", str(CATALOGS), "-q", "-p", "no:cacheprovider",
               "--scenario-sample", str(sample), "--seed", "0"]
    if workers:
        command += ["-n", workers]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    for failure in (line for line in lines if line.startswith("FAILED")):
        print(f"    {failure}")
    print(f"  pytest {'-n ' + workers if workers else 'serial'}: {lines[-1]}")
    return sample / elapsed * 60


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(small: int, large: int, every: int) -> tuple[float, float]:
    config = load_bench(BENCH_FILE)
    kinds = {name: config.profiles[ecu.profile].bootloader for name, ecu in config.ecus.items()}
    scenarios = [s for path in ecu_catalogs(CATALOGS) for s in load_catalog(path, ecus=kinds)]
    chosen = random.Random(0).sample(scenarios, large)
    images, deltas = firmware_builder(REPO), delta_builder(REPO)
    after_small = 0.0
    with tempfile.TemporaryDirectory(prefix="scenario-rss-") as root:
        for number, scenario in enumerate(chosen, start=1):
            try:
                play(config, scenario, images, workdir=Path(root) / str(number), deltas=deltas)
            except Exception as finding:  # noqa: BLE001 - a failed scenario's memory counts all the same
                print(f"  (scenario {scenario.id}: {type(finding).__name__}: {str(finding)[:300]})")
            if number == small:
                after_small = peak_rss_mib()
            if every and number % every == 0:
                print(f"  after {number}: peak RSS {peak_rss_mib():.1f} MiB, {threading.active_count()} threads",
                      flush=True)
    return after_small, peak_rss_mib()


def main() -> int:
    logging.disable(logging.ERROR)  # can-isotp and udsoncan narrate every injected fault
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=200, help="scenarios per rate measurement (0: skip)")
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=1000, help="scenarios for the memory measurement (0: skip)")
    parser.add_argument("--every", type=int, default=0, help="print peak RSS every N scenarios (0: only the two)")
    args = parser.parse_args()
    config = load_bench(BENCH_FILE)
    kinds = {name: config.profiles[ecu.profile].bootloader for name, ecu in config.ecus.items()}
    total = sum(len(load_catalog(path, ecus=kinds)) for path in ecu_catalogs(CATALOGS))
    print(f"{total} scenarios in {CATALOGS.relative_to(REPO)}; sample of {args.sample} (seed 0)")
    for workers in (None, "auto") if args.sample else ():
        per_minute = rate(args.sample, workers)
        print(f"  -> {per_minute:.0f} scenarios/min; whole catalog in about {total / per_minute:.0f} min "
              "(target: under 10 min)")
    if not args.large:
        return 0
    small, large = memory(args.small, args.large, args.every)
    print(f"peak RSS after {args.small} scenarios: {small:.1f} MiB; after {args.large}: {large:.1f} MiB "
          f"(growth {large - small:+.1f} MiB for {args.large - args.small} more, {(large / small - 1) * 100:+.1f} %; "
          "target: within 5 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
