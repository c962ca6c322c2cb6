"""Bench fault, usage error or ECU failure: how a failed test is counted, and the run's exit status.

A bench fault is what the rig did, never the ECU: ``BenchFault``, an error of python-can or
pyserial (adapter or port gone), a pytest-timeout timeout (the bench hung), a pytest-xdist
worker that crashed. A usage error is the user's mistake found while the test runs
(``bench.errors.UsageError``: a bad trigger argument, a catalog asking what the ECU cannot do,
a bench file or recipe in error). Everything else that fails is an ECU failure. These are the
same families as the Allure categories (``bench/report/categories.json``).

Exit status: pytest's, except that a run with failures but no ECU failure exits with
``USAGE`` (4, pytest's own status for a usage error) when one of them is a usage error, else
with ``BENCH_BROKEN`` (6); a run stopped at collection by a catalog's mistake exits with
``USAGE`` too, not as interrupted (2); and a run that passed but left tests unrun at its time
budget exits with 2 (interrupted). ECU failures keep 1 whatever else happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import can
import pytest
import serial

from bench.errors import BenchFault, UsageError

BENCH_BROKEN = 6
"""Exit status of a run with bench faults, and no ECU failure nor usage error."""
USAGE = int(pytest.ExitCode.USAGE_ERROR)
"""Exit status of a run with usage errors and no ECU failure (4, as pytest's usage errors)."""
TIMEOUT_MESSAGE = "from pytest-timeout"
"""The end of pytest-timeout's failure message (``Timeout (>120.0s) from pytest-timeout.``)."""
CRASHED_WORKER = "crashed while running"
"""pytest-xdist's report of a worker that died: ``worker 'gw0' crashed while running 'test_x'``."""


@dataclass(frozen=True)
class BenchFaultSeen:
    message: str
    timeout: bool = False
    """A hang cut by pytest-timeout: a bench fault, but not retried (its time is spent)."""


def bench_fault_in(excinfo: pytest.ExceptionInfo[BaseException]) -> BenchFaultSeen | None:
    """The bench fault ``excinfo`` is; None for anything else (an ECU failure, a skip)."""
    error = excinfo.value
    if isinstance(error, (BenchFault, can.CanError, serial.SerialException)):
        return BenchFaultSeen(excinfo.exconly())
    if isinstance(error, pytest.fail.Exception) and TIMEOUT_MESSAGE in str(error):
        return BenchFaultSeen(excinfo.exconly(), timeout=True)
    return None


def usage_error_in(excinfo: pytest.ExceptionInfo[BaseException]) -> str | None:
    """What the user got wrong, if ``excinfo`` is a usage error; None for anything else."""
    return excinfo.exconly() if isinstance(excinfo.value, UsageError) else None


def crashed_worker(report: pytest.TestReport) -> bool:
    return report.failed and isinstance(report.longrepr, str) and CRASHED_WORKER in report.longrepr


@dataclass
class Tally:
    """What the run's final reports say, as the process that owns the run receives them."""

    ecu_failures: int = 0
    bench_faults: int = 0
    usage_errors: int = 0
    collection_usage_errors: int = 0
    """Catalogs whose collection failed on their own mistake (counted in ``usage_errors`` too)."""
    over_budget: int = 0
    """Tests skipped because the run's time budget was spent."""
    retried: dict[str, list[str]] = field(default_factory=dict)
    """Tests rerun after bench faults: node id → what happened to each earlier attempt."""

    def count(self, report: pytest.TestReport) -> None:
        if report.failed:
            if getattr(report, "bench_fault", None):
                self.bench_faults += 1
            elif getattr(report, "usage_error", None):
                self.usage_errors += 1
            else:
                self.ecu_failures += 1
        if getattr(report, "over_budget", False):
            self.over_budget += 1
        if getattr(report, "bench_retries", None):
            self.retried[report.nodeid] = list(report.bench_retries)

    def count_collection_usage_error(self) -> None:
        self.usage_errors += 1
        self.collection_usage_errors += 1

    def exit_status(self, status: int) -> int:
        if status == pytest.ExitCode.INTERRUPTED and self.collection_usage_errors and not self.ecu_failures:
            return USAGE
        if status == pytest.ExitCode.TESTS_FAILED and not self.ecu_failures and self.usage_errors:
            return USAGE
        if status == pytest.ExitCode.TESTS_FAILED and not self.ecu_failures and self.bench_faults:
            return BENCH_BROKEN
        if status == pytest.ExitCode.OK and self.over_budget:
            return pytest.ExitCode.INTERRUPTED
        return status
