"""The bench's own history of runs, one JSON line per run, kept where CI keeps it between nights
(``--history DIR``; ``fixtures/ci/nightly.gitlab-ci.yml`` caches ``reports/history/``).

Allure 3 keeps its own history next to it (``historyPath`` in ``reports/allurerc.mjs``), which
gives the report its trend charts and each test's history tab; this one keeps what the lab
lead's summary needs and Allure's format does not promise: each test's ECU, fault kind and rack
and whether it ended in a bench fault.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.report.categories import BENCH_FAULT, category_of
from bench.report.results import Outcome

HISTORY_FILE = "bench-history.jsonl"
KEEP = 100
"""Runs kept in the file (the oldest are dropped)."""


@dataclass(frozen=True)
class ResultRecord:
    id: str
    name: str
    status: str
    ecu: str = ""
    fault: str = ""
    rack: str = ""
    bench_fault: bool = False

    @property
    def failing(self) -> bool:
        """A finding about the ECU (or a usage error): failed or broken, not by the bench."""
        return self.status in ("failed", "broken", "unknown") and not self.bench_fault

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class RunRecord:
    run: str
    """What names the run: its start time (ISO 8601, UTC) or a CI pipeline's id."""
    revision: str
    tests: tuple[ResultRecord, ...]

    @classmethod
    def from_results(cls, run: str, revision: str, outcomes: Iterable[Outcome]) -> RunRecord:
        tests = [ResultRecord(id=outcome.history_id or outcome.name, name=outcome.name, status=outcome.status,
                            ecu=outcome.labels.get("ecu", ""), fault=outcome.labels.get("fault", ""),
                            rack=outcome.labels.get("bench", ""),
                            bench_fault=(category_of(outcome.status, outcome.message) or "").startswith(BENCH_FAULT))
                 for outcome in outcomes]
        return cls(run=run, revision=revision, tests=tuple(sorted(tests, key=lambda test: test.id)))

    def to_json(self) -> str:
        return json.dumps({"run": self.run, "revision": self.revision, "tests": [asdict(test) for test in self.tests]})

    @classmethod
    def from_json(cls, line: str) -> RunRecord:
        data = json.loads(line)
        return cls(run=data["run"], revision=data.get("revision", ""),
                   tests=tuple(ResultRecord(**test) for test in data["tests"]))


def read_history(directory: Path) -> list[RunRecord]:
    """The runs recorded in ``directory``, oldest first; none when it holds no history yet."""
    path = directory / HISTORY_FILE
    if not path.is_file():
        return []
    return [RunRecord.from_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def append_run(directory: Path, record: RunRecord) -> list[RunRecord]:
    """Add ``record`` to the history (keeping the last ``KEEP`` runs); returns the whole history."""
    runs = [*read_history(directory), record][-KEEP:]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / HISTORY_FILE).write_text("".join(run.to_json() + "\n" for run in runs), encoding="utf-8")
    return runs
