"""CPU per catalog scenario on two git revisions, run back to back: after / before.

The same sample of the shipped catalogs (``--scenario-sample N --seed S``) runs through pytest
on each revision, the runs interleaved (before, after, before, after...) so that the load of a
shared machine falls on both alike. Per run it takes the CPU time (user + sys) of the pytest
process tree from the kernel (``wait4``), and per scenario (``cpu_probe.py``) the CPU and the
CAN frames sent. It prints the ratio after / before of the CPU per scenario for every round
and their median, then frames and CPU per scenario by catalog and by fault kind, and whether
the same scenarios passed. A revision other than the working tree is checked out with
``git worktree add`` under ``/tmp`` (kept for the next run) and run with this tree's ``.venv``.

A measurement, not a test: prints, never asserts.

    .venv/bin/python benchmarks/cpu_compare.py [--before 2b5e1ef] [--after .] [--sample 300] [--seed 7] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE_DIR = Path(__file__).resolve().parent


def checkout(revision: str) -> Path:
    """The tree to run ``revision`` in: this working tree for ``.``, else a worktree in /tmp."""
    if revision == ".":
        return REPO
    commit = subprocess.run(["git", "rev-parse", "--short=12", revision], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.strip()
    tree = Path(tempfile.gettempdir()) / f"ota-cpu-compare-{commit}"
    if not (tree / "bench").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=REPO, check=True,
                       capture_output=True)
    return tree


def run(tree: Path, sample: int, seed: int, workers: int) -> dict:
    """One pytest run of the sample in ``tree``: its CPU, wall time, load and per-scenario lines."""
    with tempfile.TemporaryDirectory(prefix="cpu-compare-") as scratch:
        lines, output = Path(scratch) / "scenarios.jsonl", Path(scratch) / "pytest.out"
        command = [sys.executable, "-m", "pytest", "testcases/scenarios", "-q", "-rfE", "-p", "no:cacheprovider",
                   "-p", "cpu_probe", "--scenario-sample", str(sample), "--seed", str(seed),
                   "--basetemp", str(Path(scratch) / "tmp")]
        if workers:
            command += ["-n", str(workers)]
        env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{PROBE_DIR}", "CPU_PROBE_OUT": str(lines)}
        load = os.getloadavg()[0]
        started = time.perf_counter()
        with output.open("w") as out:
            process = subprocess.Popen(command, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(process.pid, 0)  # the tree's CPU: pytest and what it waited for
            process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        scenarios = [json.loads(line) for line in lines.read_text().splitlines()] if lines.exists() else []
        text = output.read_text().strip().splitlines()
        summary = text[-1:] or ["(no output)"]
        failures = [line[:400] for line in text if line.startswith(("FAILED ", "ERROR ")) and "::" in line]
    return {"cpu": usage.ru_utime + usage.ru_stime, "wall": wall, "load": load, "scenarios": scenarios,
            "summary": summary[0], "failures": failures}


def table(title: str, key: str, before: list[dict], after: list[dict]) -> None:
    """Frames and CPU per scenario, grouped by ``key``, before and after (means over all runs)."""
    groups: dict[str, dict[str, list[dict]]] = defaultdict(lambda: {"before": [], "after": []})
    for side, lines in (("before", before), ("after", after)):
        for line in lines:
            groups[line[key]][side].append(line)
    print(f"\nby {title}: scenarios, frames per scenario, CPU s per scenario (before -> after), ratio")
    print(f"  {title:<22} {'n':>4} {'frames before':>14} {'frames after':>13} {'CPU before':>11} "
          f"{'CPU after':>10} {'ratio':>6}")
    for name in sorted(groups):
        b, a = groups[name]["before"], groups[name]["after"]
        if not b or not a:
            continue
        fb, fa = (statistics.mean(x["frames"] for x in side) for side in (b, a))
        cb, ca = (statistics.mean(x["cpu"] for x in side) for side in (b, a))
        runs = max(1, len({x["run"] for x in b}))
        print(f"  {name:<22} {len(b) // runs:>4} {fb:>14.0f} {fa:>13.0f} {cb:>11.3f} {ca:>10.3f} {ca / cb:>6.2f}")


def scenarios_alone(before: list[dict], after: list[dict]) -> None:
    """The ratio without what a pytest run spends once (start, collection, summary): the scenarios'
    call phases alone, over all of them and over the scenarios both sides ran (a catalog that grew
    between the revisions samples other scenarios with the same seed)."""
    def mean(lines: list[dict], ids: set[str] | None = None) -> float:
        chosen = [line["cpu"] for line in lines if ids is None or line["id"] in ids]
        return statistics.mean(chosen) if chosen else float("nan")

    common = {line["id"] for line in before} & {line["id"] for line in after}
    print(f"scenarios' call phases alone: {mean(before):.3f} -> {mean(after):.3f} s per scenario, "
          f"{mean(after) / mean(before):.3f}; the {len(common)} scenarios both ran: {mean(before, common):.3f} -> "
          f"{mean(after, common):.3f}, {mean(after, common) / mean(before, common):.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="2b5e1ef", help="git revision (default: main before issue 17)")
    parser.add_argument("--after", default=".", help="git revision, or . for this working tree (default)")
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2, help="before/after pairs, interleaved")
    parser.add_argument("--workers", type=int, default=0, help="pytest-xdist workers (0: serial)")
    args = parser.parse_args()
    trees = {"before": checkout(args.before), "after": checkout(args.after)}
    print(f"sample {args.sample} (seed {args.seed}), {args.rounds} round(s), "
          f"{'serial' if not args.workers else f'-n {args.workers}'}, {os.cpu_count()} CPUs")
    print(f"  before: {args.before} in {trees['before']}\n  after:  {args.after} in {trees['after']}")
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    ratios = []
    for number in range(1, args.rounds + 1):
        for side in ("before", "after"):
            result = run(trees[side], args.sample, args.seed, args.workers)
            runs[side].append(result)
            count = max(1, len(result["scenarios"]))
            print(f"  round {number} {side:<6}: CPU {result['cpu']:7.1f} s = {result['cpu'] / count:.3f} s per "
                  f"scenario, wall {result['wall']:6.1f} s, load {result['load']:.1f} at start; {result['summary']}")
            for failure in result["failures"]:
                print(f"      {failure}")
        before, after = (runs[side][-1] for side in ("before", "after"))
        ratios.append((after["cpu"] / max(1, len(after["scenarios"])))
                      / (before["cpu"] / max(1, len(before["scenarios"]))))
        print(f"  round {number} ratio after/before, CPU per scenario: {ratios[-1]:.3f}")
    print(f"\nCPU per scenario, after / before: {statistics.median(ratios):.3f} "
          f"(median of {len(ratios)} round(s): {', '.join(f'{r:.3f}' for r in ratios)}; target <= 0.33)")
    lines = {side: [{**line, "run": index} for index, result in enumerate(runs[side]) for line in result["scenarios"]]
             for side in runs}
    scenarios_alone(lines["before"], lines["after"])
    table("catalog", "catalog", lines["before"], lines["after"])
    table("fault kind", "fault", lines["before"], lines["after"])
    verdicts = {side: {line["id"]: line["passed"] for line in lines[side]} for side in lines}
    differ = sorted(i for i in verdicts["before"].keys() & verdicts["after"].keys()
                    if verdicts["before"][i] != verdicts["after"][i])
    failed = {side: sorted({line["id"] for line in lines[side] if not line["passed"]}) for side in lines}
    print(f"\nfailed before: {len(failed['before'])} {failed['before'][:5]}; after: {len(failed['after'])} "
          f"{failed['after'][:5]}; verdict differs on {len(differ)} {differ[:5]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
