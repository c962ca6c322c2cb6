"""pytest hooks of nightly runs (``bench.pytest.plugin`` loads this module).

In every process: a test that runs on a rack takes one as its set-up begins (``bench.pytest.
run_state.take_rack``) and gives it back after its tear-down; once the run budget is spent, tests are
skipped before they start; each failed report says whether it is a bench fault; every attempt on
a rack counts for or against the rack's quarantine; ``--bench-fault-retries`` reruns attempts
that ended in a bench fault (``bench.pytest.retry``); ``--shard-index/--shard-count`` keep one
shard of the selected tests. A timeout keeps the stacks of every thread in its report.

In the process that owns the run (the pytest-xdist controller, or the only process): the run's
id and start time go to the workers; the final reports are counted (``Tally``) for the exit
status, the terminal summary, JUnit (``bench.pytest.junit``) and ``environment.properties``
(``bench.pytest.run_state.run_properties``); the run's quarantine book is removed
at the end.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import traceback
from pathlib import Path

import pytest

from bench.nightly.budget import RunBudget
from bench.nightly.pool import Lease
from bench.nightly.run import WORKERINPUT_KEY, run_info
from bench.nightly.shards import deal
from bench.nightly.verdicts import BENCH_BROKEN, USAGE, Tally, bench_fault_in, crashed_worker, usage_error_in
from bench.pytest.junit import retag_as_error
from bench.pytest.run_state import (BUDGET, HELD, NEEDS, TALLY, UNAVAILABLE, bench_paths, quarantine_book,
                                    rack_pool, take_rack)
from bench.pytest.retry import ATTEMPT, Attempt, run_with_retries
from bench.report.evidence import attach_text

DEFAULT_LOCKS = Path(tempfile.gettempdir()) / "ota-bench-locks"
OVER_BUDGET = pytest.StashKey[bool]()
STACKS = "threads at the timeout"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ota-hil-bench")
    group.addoption("--rack-locks", metavar="DIR", default=str(DEFAULT_LOCKS),
                    help="folder of the rack locks, shared by every run on this machine (default: %(default)s)")
    group.addoption("--rack-wait", metavar="SECONDS", type=float, default=60.0,
                    help="how long a test waits for a free rack before it is a bench error (default: %(default)s)")
    group.addoption("--rack-quarantine", metavar="K", type=int, default=3,
                    help="take a rack out of the pool for the rest of the run after K bench faults in a row "
                         "(0: never; default: %(default)s)")
    group.addoption("--bench-fault-retries", metavar="N", type=int, default=0,
                    help="rerun a test whose attempt ended in a bench fault up to N times, on another rack "
                         "when one can run it (default: %(default)s)")
    group.addoption("--run-budget", metavar="SECONDS", type=float, default=None,
                    help="after SECONDS, skip the tests not yet started and end the run as interrupted")
    group.addoption("--shard-index", metavar="I", type=int, default=None,
                    help="run shard I (from 0) of --shard-count: a deterministic share of the selected tests")
    group.addoption("--shard-count", metavar="N", type=int, default=None, help="number of shards (see --shard-index)")


def pytest_configure(config: pytest.Config) -> None:
    check_options(config)
    run = run_info(config)
    seconds = config.getoption("run_budget")
    if seconds is not None:
        config.stash[BUDGET] = RunBudget(seconds, run.started)
    if not hasattr(config, "workerinput"):
        config.stash[TALLY] = Tally()
        config.pluginmanager.register(RunOwner(config), "bench-nightly-run")


def check_options(config: pytest.Config) -> None:
    option = config.getoption
    problems = [f"{name} must be {rule}, got {option(dest)}" for name, dest, rule, valid in (
        ("--rack-wait", "rack_wait", "positive", lambda value: value > 0),
        ("--rack-quarantine", "rack_quarantine", "0 or more", lambda value: value >= 0),
        ("--bench-fault-retries", "bench_fault_retries", "0 or more", lambda value: value >= 0),
        ("--run-budget", "run_budget", "positive", lambda value: value is None or value > 0),
    ) if not valid(option(dest))]
    index, count = option("shard_index"), option("shard_count")
    if (index is None) != (count is None):
        problems.append("--shard-index and --shard-count go together")
    elif count is not None and not 0 <= index < count:
        problems.append(f"--shard-index must be from 0 to --shard-count - 1 ({count - 1}), got {index}")
    if problems:
        raise pytest.UsageError("; ".join(problems))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # noqa: ANN001 - pytest-xdist's WorkerController
    node.workerinput[WORKERINPUT_KEY] = run_info(node.config).for_workers()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    count = config.getoption("shard_count")
    if count is None:
        return
    mine, others = deal(items, config.getoption("shard_index"), count)
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = mine


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    retries = item.config.getoption("bench_fault_retries")
    if not retries:
        return None  # pytest's own protocol
    run_with_retries(item, nextitem, retries)
    return True


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_setup(item: pytest.Item):  # noqa: ANN201 - a hook wrapper
    """Inside Allure's wrapper, before every other set-up: the budget, then the rack."""
    item.stash[ATTEMPT] = Attempt()
    for key in (HELD, UNAVAILABLE):
        if key in item.stash:
            del item.stash[key]
    budget = item.config.stash.get(BUDGET, None)
    if budget is not None and budget.spent():
        item.stash[OVER_BUDGET] = True
        raise pytest.skip.Exception(budget.reason(), _use_item_location=True)
    if NEEDS in item.stash:
        take_rack(item)
    return (yield)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item):  # noqa: ANN201 - a hook wrapper
    """After every fixture of the test has been torn down: count the attempt for or against its
    rack, then give the rack back (in this order, so the next test to take it knows)."""
    attempt = item.stash.setdefault(ATTEMPT, Attempt())
    try:
        return (yield)
    except BaseException as error:
        attempt.fault = attempt.fault or bench_fault_in(pytest.ExceptionInfo.from_exception(error))
        raise
    finally:
        lease = item.stash.get(HELD, None)
        if lease is not None:
            settle(item, attempt, lease)
            lease.release()


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201 - a hook wrapper
    """Inside Allure's wrapper, so the result it writes has what this adds."""
    report: pytest.TestReport = yield
    attempt = item.stash.setdefault(ATTEMPT, Attempt())
    attempt.body_ran |= call.when == "call"
    if report.failed and call.excinfo is not None:
        fault = bench_fault_in(call.excinfo)
        if fault is not None:
            report.bench_fault = fault.message  # type: ignore[attr-defined]
            attempt.fault = attempt.fault or fault
            if fault.timeout:
                keep_stacks(item, report)
        else:
            usage = usage_error_in(call.excinfo)
            if usage is not None:
                report.usage_error = usage  # type: ignore[attr-defined]
    if report.skipped and item.stash.get(OVER_BUDGET, False):
        report.over_budget = True  # type: ignore[attr-defined]
    return report


def settle(item: pytest.Item, attempt: Attempt, lease: Lease) -> None:
    """Count the attempt for or against its rack: a bench fault, or a test body that ran on it.
    A lone virtual bench is not counted: every test brings up its own, so one test's fault says
    nothing about the next."""
    attempt.rack = lease.rack
    pool = rack_pool(item.config)
    if not pool.locking:
        return
    if attempt.fault is not None:
        pool.book.fault(lease.rack.path, lease.rack.name, attempt.fault.message)
    elif attempt.body_ran:
        pool.book.healthy(lease.rack.path, lease.rack.name)


def keep_stacks(item: pytest.Item, report: pytest.TestReport) -> None:
    """The stack of every other thread, where the hang is, in the report (terminal, JUnit) and
    the Allure result: pytest-timeout prints them only to the terminal of the process that timed out."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    text = "\n".join(f"--- thread {names.get(ident, ident)} ---\n" + "".join(traceback.format_stack(frame))
                     for ident, frame in sys._current_frames().items() if ident != threading.get_ident())  # noqa: SLF001
    if hasattr(report.longrepr, "addsection"):
        report.longrepr.addsection(STACKS, text)
    attach_text(item, {STACKS: text}, sections=False)


class RunOwner:
    """What only the process that owns the run does: count, decide the exit status, summarize."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.tally = config.stash[TALLY]

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if crashed_worker(report):
            report.bench_fault = str(report.longrepr)  # type: ignore[attr-defined]
        self.tally.count(report)
        if report.when == "call" and report.failed and (getattr(report, "bench_fault", None)
                                                         or getattr(report, "usage_error", None)):
            retag_as_error(self.config, report)
        retries = getattr(report, "bench_retries", None)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if retries and report.when == "teardown" and reporter is not None:
            reporter.stats.setdefault("rerun", []).extend([report] * len(retries))  # "2 rerun" in the last line

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and getattr(report, "usage_error", None):  # a catalog's mistake (bench.pytest.collect)
            self.tally.count_collection_usage_error()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        session.exitstatus = self.tally.exit_status(session.exitstatus)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        lines = summary_lines(self.config, self.tally)
        if lines:
            terminalreporter.section("nightly run")
            for line in lines:
                terminalreporter.write_line(line)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        quarantine_book(config).remove()


def summary_lines(config: pytest.Config, tally: Tally) -> list[str]:
    lines = []
    paths = bench_paths(config)
    if len(paths) > 1:
        lines.append(f"rack pool: {', '.join(str(path) for path in paths)} (locks in {config.getoption('rack_locks')})")
    for health in quarantine_book(config).racks().values():
        if health.quarantined:
            lines.append(f"rack {health.name!r} quarantined: {health.quarantined}")
    if tally.retried:
        lines.append(f"rerun after bench faults: {len(tally.retried)} test(s)")
        lines += [f"  {nodeid}: {'; '.join(attempts)}" for nodeid, attempts in tally.retried.items()]
    budget = config.stash.get(BUDGET, None)
    if tally.over_budget and budget is not None:
        lines.append(f"run budget of {budget.seconds:g} s spent: {tally.over_budget} test(s) not started")
    if tally.usage_errors:
        verdict = ("exit status 1: ECU failures (usage errors too)" if tally.ecu_failures else
                   f"exit status {USAGE}: fix the test, catalog or bench file; no ECU failure")
        lines.append(f"usage errors: {tally.usage_errors}, ECU failures: {tally.ecu_failures}; {verdict}")
    if tally.bench_faults:
        verdict = ("exit status 1: ECU failures (bench faults too)" if tally.ecu_failures else
                   f"exit status {USAGE}: usage errors (bench faults too)" if tally.usage_errors else
                   f"exit status {BENCH_BROKEN}: the bench is broken, no ECU failure")
        lines.append(f"bench faults: {tally.bench_faults}, ECU failures: {tally.ecu_failures}; {verdict}")
    return lines
