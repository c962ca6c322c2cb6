"""The compliance matrix of a run: requirement → the scenarios and tests that demonstrate it →
passed, failed or not run; a requirement nothing demonstrates is flagged.

Computed from the Allure results (status and the ``requirement`` labels, see ``labels``), so it
counts what the report shows, also across pytest-xdist workers and merged shards, plus the
*claims* of the run: how many collected scenarios and tests name each requirement, which tells
"not run this time" (sampled out, deselected, skipped) from "nothing demonstrates it". Written as
CSV here and as HTML by ``compliance_html``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.report.results import Outcome
from bench.scenarios.requirements import Requirement, RequirementCatalog

CLAIMS_FILE = "requirement-claims.json"
"""In a results folder: requirement id → collected scenarios and tests naming it (``write_claims``)."""
CSV_COLUMNS = ("requirement", "document", "clause", "clause_verified", "title", "verdict", "claimed", "ran",
               "passed", "failed", "broken", "skipped", "problems", "clause_confirmed_by")
PASSED, FAILED, NOT_RUN, UNDEMONSTRATED = "passed", "failed", "not run", "no scenario demonstrates this"
"""A requirement's verdict in this run."""


@dataclass
class RequirementRow:
    requirement: Requirement
    claimed: int = 0
    """Scenarios and tests of the run's collection that name it (before sampling and selection)."""
    results: list[Outcome] = field(default_factory=list)
    """Those that ran (or were skipped) in this run."""

    def count(self, *statuses: str) -> int:
        return sum(outcome.status in statuses for outcome in self.results)

    @property
    def ran(self) -> int:
        return self.count("passed", "failed", "broken", "unknown")

    @property
    def verdict(self) -> str:
        if self.ran > self.count("passed"):
            return FAILED
        if self.ran:
            return PASSED
        return NOT_RUN if self.claimed or self.results else UNDEMONSTRATED

    @property
    def problems(self) -> list[str]:
        """Names of the scenarios and tests that failed or broke."""
        return [outcome.name for outcome in self.results if outcome.status not in ("passed", "skipped")]


@dataclass
class ComplianceMatrix:
    rows: list[RequirementRow]
    unknown: dict[str, int] = field(default_factory=dict)
    """Requirement ids in results that the catalog does not define (results of another checkout)."""

    @classmethod
    def from_results(cls, catalog: RequirementCatalog, outcomes: Iterable[Outcome],
                     claims: Mapping[str, int]) -> ComplianceMatrix:
        rows = {requirement_id: RequirementRow(requirement, claimed=claims.get(requirement_id, 0))
                for requirement_id, requirement in catalog.requirements.items()}
        matrix = cls(rows=list(rows.values()))
        for outcome in outcomes:
            for requirement_id in outcome.requirements:
                if requirement_id in rows:
                    rows[requirement_id].results.append(outcome)
                else:
                    matrix.unknown[requirement_id] = matrix.unknown.get(requirement_id, 0) + 1
        return matrix

    def verdicts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for row in self.rows:
            counted[row.verdict] = counted.get(row.verdict, 0) + 1
        return counted

    def write_csv(self, path: Path) -> None:
        """One row per requirement of the catalog, in the catalog's order."""
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(CSV_COLUMNS)
            for row in self.rows:
                requirement = row.requirement
                writer.writerow([requirement.id, requirement.document, requirement.clause,
                                 "yes" if requirement.verified else "no", requirement.title, row.verdict, row.claimed,
                                 row.ran, row.count("passed"), row.count("failed"), row.count("broken", "unknown"),
                                 row.count("skipped"), "; ".join(row.problems), requirement.confirmed_by or ""])


def write_claims(alluredir: Path, claims: Mapping[str, int]) -> None:
    (alluredir / CLAIMS_FILE).write_text(json.dumps(dict(sorted(claims.items())), indent=1), encoding="utf-8")


def read_claims(alluredir: Path) -> dict[str, int]:
    """The claims a run wrote into its results folder; none when it wrote none."""
    path = alluredir / CLAIMS_FILE
    if not path.is_file():
        return {}
    return {str(key): int(value) for key, value in json.loads(path.read_text(encoding="utf-8")).items()}


def merge_claims(shards: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Every shard collects the whole suite before keeping its part, so their claims agree; the
    largest count is kept (a shard that collected less, e.g. with -k, does not lower it)."""
    merged: dict[str, int] = {}
    for claims in shards:
        for requirement_id, count in claims.items():
            merged[requirement_id] = max(count, merged.get(requirement_id, 0))
    return merged
