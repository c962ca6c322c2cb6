"""Bench-fault retries (``--bench-fault-retries N``): a test whose attempt ended in a bench fault
runs again, up to N more times, on another rack when the pool has one that can run it.

Attempts go through pytest's own runtest protocol, as pytest-rerunfailures does it. An attempt
that is retried becomes an Allure result of its own (same history id: the report shows the final
result with its retries, the bench fault in the retry's category) but is not logged to the
terminal, JUnit or the exit status; the final attempt is, and carries ``bench_retries`` (what
happened to each earlier attempt), which the run summary lists, JUnit shows as properties and a
failed final attempt shows as a section. A pytest-timeout timeout is not retried: the time of
the test is spent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from _pytest.runner import runtestprotocol  # the protocol of one attempt, as pytest-rerunfailures uses it

from bench.nightly.racks import Rack
from bench.nightly.verdicts import BenchFaultSeen
from bench.pytest.run_state import AVOID
from bench.report.evidence import RECORDED

RETRY_PROPERTY = "bench_retry"
"""User property (a JUnit property) of a retried test, one per earlier attempt."""


@dataclass
class Attempt:
    """One run of a test through the protocol: where it ran and whether the bench failed it."""

    rack: Rack | None = None
    fault: BenchFaultSeen | None = None
    body_ran: bool = False


ATTEMPT = pytest.StashKey[Attempt]()


def run_with_retries(item: pytest.Item, nextitem: pytest.Item | None, retries: int) -> None:
    earlier: list[str] = []
    for number in itertools.count(1):
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        attempt = item.stash.get(ATTEMPT, Attempt())
        if attempt.fault is not None and not attempt.fault.timeout and number <= retries:
            where = f"rack {attempt.rack.name!r}" if attempt.rack else "no rack"
            earlier.append(f"attempt {number} on {where}: {attempt.fault.message}")
            item.user_properties.append((RETRY_PROPERTY, earlier[-1]))
            if attempt.rack is not None:
                item.stash[AVOID] = item.stash.get(AVOID, frozenset()) | {attempt.rack.path}
            if RECORDED in item.stash:
                del item.stash[RECORDED]  # the next attempt records its own evidence
            item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
            continue
        for report in reports:
            if earlier:
                report.bench_retries = earlier  # type: ignore[attr-defined]
                report.sections.append(("bench faults of earlier attempts", "\n".join(earlier)))
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return
