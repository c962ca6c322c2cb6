"""The campaign's outcome matrix: for each ECU, phase × fault kind → how many scenarios passed
(an ECU reached over DoIP, label ``transport``, is a row of its own: ``bms over doip``).

Computed from the Allure results of the run (status and the labels ``ecu``, ``phase`` and
``fault`` of scenario items, see ``labels``), so it counts what the report shows, also across
pytest-xdist workers. Written as CSV here, as HTML by ``matrix_html`` and as a PNG heatmap by
``heatmap``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.report.results import Outcome
from bench.faults.kinds import kind_names

PHASE_ORDER = ("session", "security", "erase", "sector", "first_block", "block", "offset", "random_block",
               "middle_block", "page", "last_block", "transfer_exit", "check", "reset", "boot", "confirm")
"""Trigger-point classes in the order an update passes them; others follow alphabetically."""
CSV_COLUMNS = ("ecu", "phase", "fault", "passed", "total", "failed", "broken", "skipped", "failure_rate")


@dataclass
class Cell:
    """The scenarios of one ECU, phase and fault kind."""

    passed: int = 0
    failed: int = 0
    broken: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    """Names of the scenarios that failed or broke."""

    @property
    def total(self) -> int:
        """Scenarios that ran (a skipped one says nothing about the ECU)."""
        return self.passed + self.failed + self.broken

    @property
    def failure_rate(self) -> float | None:
        return (self.failed + self.broken) / self.total if self.total else None

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "passed":
            self.passed += 1
        elif outcome.status == "skipped":
            self.skipped += 1
        else:  # failed, broken, unknown (a result allure could not finish): not a pass
            if outcome.status == "failed":
                self.failed += 1
            else:
                self.broken += 1
            self.problems.append(outcome.name)


@dataclass
class OutcomeMatrix:
    cells: dict[str, dict[tuple[str, str], Cell]] = field(default_factory=dict)
    """ECU → (phase, fault kind) → cell."""

    @classmethod
    def from_results(cls, outcomes: Iterable[Outcome]) -> OutcomeMatrix:
        """The matrix of the scenario results among ``outcomes`` (other tests have no phase)."""
        matrix = cls()
        for outcome in outcomes:
            labels = outcome.labels
            if {"ecu", "phase", "fault"} <= labels.keys():
                transport = labels.get("transport", "can")  # an ECU over DoIP is a row of its own
                ecu = labels["ecu"] if transport == "can" else f"{labels['ecu']} over {transport}"
                per_ecu = matrix.cells.setdefault(ecu, {})
                per_ecu.setdefault((labels["phase"], labels["fault"]), Cell()).add(outcome)
        return matrix

    def __bool__(self) -> bool:
        return bool(self.cells)

    @property
    def ecus(self) -> list[str]:
        return sorted(self.cells)

    @property
    def phases(self) -> list[str]:
        """Phases that occur for any ECU, in flashing order (one row set for every ECU's table)."""
        seen = {phase for per_ecu in self.cells.values() for phase, _ in per_ecu}
        return sorted(seen, key=lambda phase: (PHASE_ORDER.index(phase) if phase in PHASE_ORDER
                                               else len(PHASE_ORDER), phase))

    @property
    def faults(self) -> list[str]:
        seen = {fault for per_ecu in self.cells.values() for _, fault in per_ecu}
        order = list(kind_names())
        return sorted(seen, key=lambda fault: (order.index(fault) if fault in order else len(order), fault))

    def cell(self, ecu: str, phase: str, fault: str) -> Cell | None:
        return self.cells.get(ecu, {}).get((phase, fault))

    def write_csv(self, path: Path) -> None:
        """One row per ECU, phase and fault kind that has scenarios."""
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(CSV_COLUMNS)
            for ecu in self.ecus:
                for phase in self.phases:
                    for fault in self.faults:
                        cell = self.cell(ecu, phase, fault)
                        if cell is not None:
                            rate = cell.failure_rate
                            writer.writerow([ecu, phase, fault, cell.passed, cell.total, cell.failed, cell.broken,
                                             cell.skipped, "" if rate is None else f"{rate:.3f}"])
