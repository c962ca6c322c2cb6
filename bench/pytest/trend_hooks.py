"""pytest hooks of trends across runs (``bench.pytest.plugin`` loads this module).

``--history DIR`` keeps the bench's history of runs in DIR (``reports/history`` in ``make run``;
where a CI job caches it between nights). At the end of a run with ``--alluredir`` and
``--history``, the process that owns the run records it there, writes ``reports/trends.{html,png}``
(new failures, fixed, still failing and flaky tests per ECU, fault kind and rack; pass rate,
tests run and bench faults per rack per run), attaches them to the report and prints the summary.
A run that ran nothing (stopped by a usage error) is not recorded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.pytest.report_hooks import alluredir, owns_the_run
from bench.report.environment import git_revision
from bench.report.matrix_files import REPORTS_DIR
from bench.report.trend_run import record_and_trend, run_name_now
from bench.report.trends import DIMENSIONS, Trends


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ota-hil-bench")
    group.addoption("--history", metavar="DIR", type=Path, default=None,
                    help="keep the history of runs in DIR and report what changed since the previous run "
                         "(with --alluredir)")
    group.addoption("--trend-window", metavar="N", type=int, default=7,
                    help="runs a test must flip in to be flaky, and runs the trend picture shows (default 7)")
    group.addoption("--run-name", metavar="NAME", default=None,
                    help="this run's name in the history (default: its start time, UTC)")


def pytest_configure(config: pytest.Config) -> None:
    history = config.getoption("--history")
    if config.getoption("--trend-window") < 2:
        raise pytest.UsageError("--trend-window: at least 2 runs (a change needs two)")
    directory = alluredir(config)
    if history is not None and directory is not None and owns_the_run(config) and not config.option.collectonly:
        config.pluginmanager.register(TrendSummary(config, directory, history), "bench-trend-summary")


class TrendSummary:
    def __init__(self, config: pytest.Config, alluredir: Path, history: Path) -> None:
        self.config, self.alluredir, self.history = config, alluredir, history
        self.run = config.getoption("--run-name") or run_name_now()
        self.found: Trends | None = None
        self.written: list[Path] = []

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not any(self.alluredir.glob("*-result.json")):
            return  # nothing ran (a usage error, an empty selection): not a run of the history
        self.found, self.written = record_and_trend(
            self.alluredir, self.history, run=self.run, revision=git_revision(self.config.rootpath) or "",
            window=self.config.getoption("--trend-window"), reports=self.config.rootpath / REPORTS_DIR)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.found is None:
            return
        terminalreporter.section("trends")
        terminalreporter.write_line(self.found.summary())
        for heading, attribute in DIMENSIONS.items():
            for value, row in self.found.by(attribute).items():
                counts = ", ".join(f"{change} {count}" for change, count in row.items() if count)
                terminalreporter.write_line(f"  {heading} {value}: {counts}")
        terminalreporter.write_line("trends: " + ", ".join(str(path) for path in self.written))
