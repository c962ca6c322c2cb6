"""What changed across nightly runs, for the lab lead: new failures since the previous run, fixed
since, still failing, flaky (outcome changed at least twice in the last N runs), each counted per
ECU, per fault kind and per rack; and per run the pass rate, the scenarios and tests run and the
bench faults of each rack.

Only ECU findings count as failures here (failed or broken, not by the bench); a bench fault is
neither a failure nor a pass of the test, and is counted per rack instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.report.history import ResultRecord, RunRecord

NEW, FIXED, STILL, FLAKY = "new failures", "fixed", "still failing", "flaky"
CHANGES = (NEW, FIXED, STILL, FLAKY)
DIMENSIONS = {"ECU": "ecu", "fault kind": "fault", "rack": "rack"}
"""How the changes are broken down: heading → attribute of a result."""


@dataclass(frozen=True)
class RunPoint:
    run: str
    ran: int
    """Tests that passed or failed (skipped ones and bench faults say nothing about the ECU)."""
    passed: int
    bench_faults: dict[str, int]
    """Rack → tests that ended in a bench fault."""

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.ran if self.ran else None


@dataclass
class Trends:
    window: int
    runs: list[RunPoint]
    changes: dict[str, list[ResultRecord]] = field(default_factory=dict)
    """new failure / fixed / still failing / flaky → the latest result of each such test."""

    def by(self, attribute: str) -> dict[str, dict[str, int]]:
        """Value of ``attribute`` (ECU, fault kind, rack) → change → how many tests."""
        table: dict[str, dict[str, int]] = {}
        for change, results in self.changes.items():
            for result in results:
                row = table.setdefault(getattr(result, attribute) or "(none)", dict.fromkeys(CHANGES, 0))
                row[change] += 1
        return dict(sorted(table.items()))

    def summary(self) -> str:
        counts = ", ".join(f"{change} {len(self.changes[change])}" for change in CHANGES)
        return f"since the previous run: {counts} (flaky over the last {len(self.runs)} runs)"


def point_of(record: RunRecord) -> RunPoint:
    faults: dict[str, int] = {}
    for result in record.tests:
        if result.bench_fault:
            faults[result.rack or "(none)"] = faults.get(result.rack or "(none)", 0) + 1
    judged = [result for result in record.tests if result.passed or result.failing]
    return RunPoint(run=record.run, ran=len(judged), passed=sum(result.passed for result in judged),
                    bench_faults=faults)


def trends(history: Sequence[RunRecord], window: int = 7) -> Trends:
    """The trends of the last ``window`` runs of ``history`` (oldest first; the last is this run)."""
    recent = list(history[-window:])
    found = Trends(window=window, runs=[point_of(record) for record in recent],
                   changes={change: [] for change in CHANGES})
    if not recent:
        return found
    outcomes: dict[str, list[bool]] = {}
    """test id → failing? in each run of the window where it passed or failed."""
    for record in recent:
        for result in record.tests:
            if result.passed or result.failing:
                outcomes.setdefault(result.id, []).append(result.failing)
    previous = {result.id: result for result in recent[-2].tests} if len(recent) > 1 else {}
    for result in recent[-1].tests:
        if not (result.passed or result.failing):
            continue
        before = previous.get(result.id)
        flips = sum(a != b for a, b in zip(outcomes[result.id], outcomes[result.id][1:]))
        if flips >= 2:
            found.changes[FLAKY].append(result)
        elif result.failing and before is not None and before.failing:
            found.changes[STILL].append(result)
        elif result.failing:
            found.changes[NEW].append(result)
        elif before is not None and before.failing:
            found.changes[FIXED].append(result)
    return found
