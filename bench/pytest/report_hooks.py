"""pytest hooks of the reporting layer (``bench.pytest.plugin`` loads this module).

Every process labels the scenario items it runs and records the evidence of each test that
used a bench (``bench.report.evidence``: steps, text, CAN traces). At the end of a run with ``--alluredir``, the
process that owns the run (the pytest-xdist controller, or the only process) writes into the
results folder ``categories.json`` and ``environment.properties``, and, when scenarios ran,
the outcome matrix: ``reports/outcome-matrix.{csv,html,png}``, attached to the run's report.
Workers write nothing of this; a run without ``--alluredir`` writes nothing at all.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.errors import ConfigError
from bench.pytest.campaign_items import CampaignItem
from bench.pytest.collect import ScenarioItem
from bench.pytest.run_state import bench_path, rack_label, run_properties
from bench.report.captured import FAILED, add_capture_option, keep_captured_output
from bench.report.categories import write_categories
from bench.pytest.suspected import SUSPICION, suspected_instead
from bench.report.evidence import FAULTS, SETUP_FAILED, add_trace_option, record_evidence
from bench.report.environment import run_environment, write_properties
from bench.report.labels import label_campaign_scenario, label_scenario
from bench.report.matrix import OutcomeMatrix
from bench.report.matrix_files import REPORTS_DIR, write_matrix
from bench.report.results import attach_to_run, latest_results
from bench.report.suspicion import suspect_bench
from bench.report.versions import versions_in
from bench.rig import Bench


def alluredir(config: pytest.Config) -> Path | None:
    """The ``--alluredir`` of the run, absolute as allure-pytest makes it; None without one."""
    option = getattr(config.option, "allure_report_dir", None)
    return Path(os.path.abspath(option)) if option else None


def owns_the_run(config: pytest.Config) -> bool:
    """True in the process that sees the whole run: not in a pytest-xdist worker."""
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    directory = alluredir(config)
    if directory is not None and owns_the_run(config) and not config.option.collectonly:
        config.pluginmanager.register(RunSummary(config, directory), "bench-run-summary")


def pytest_addoption(parser: pytest.Parser) -> None:
    add_trace_option(parser)
    add_capture_option(parser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):  # noqa: ANN201 - a hook wrapper
    """Record the evidence of a test that used the ``bench`` fixture, right after its body:
    passed, failed or interrupted, while the bench is still up; a failure its evidence lays at
    the bench's door becomes a ``SuspectedBenchFault`` (``bench.report.suspicion``)."""
    outcome = yield
    rig = getattr(item, "funcargs", {}).get("bench")
    if isinstance(rig, Bench):
        record_evidence(item, rig, failed=outcome.excinfo is not None)
        if outcome.excinfo is not None:
            item.stash[SUSPICION] = suspect_bench(rig, item.stash.get(FAULTS, None), fault_armed=False)
            finding = outcome.excinfo[1]
            suspected = suspected_instead(item, finding)
            if suspected is not None:
                suspected.__cause__ = finding
                outcome.force_exception(suspected)


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201 - a hook wrapper
    """Inside allure-pytest's own wrapper (``trylast``): what this one leaves out of the teardown
    report, allure-pytest does not attach."""
    outcome = yield
    report = outcome.get_result()
    if call.when == "setup":
        item.stash[SETUP_FAILED] = report.failed
    item.stash[FAILED] = item.stash.get(FAILED, False) or report.failed
    if call.when == "teardown" and not item.stash[FAILED]:
        keep_captured_output(item.config, report)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if isinstance(item, ScenarioItem):
        label_scenario(item.scenario, bench=rack_label(item))
    elif isinstance(item, CampaignItem):
        label_campaign_scenario(item.scenario, bench=rack_label(item))


class RunSummary:
    """Gathers what the tests report and writes the run-level files at the end of the session."""

    def __init__(self, config: pytest.Config, alluredir: Path) -> None:
        self.config = config
        self.alluredir = alluredir
        self.versions: dict[str, set[str]] = {}
        self.written: list[Path] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for ecu, version in versions_in(report.user_properties):
            self.versions.setdefault(ecu, set()).add(version)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.alluredir.mkdir(parents=True, exist_ok=True)
        write_categories(self.alluredir)
        properties = run_environment(self._bench(), self.versions, self.config.rootpath)
        properties.update(run_properties(self.config))  # rack pool, quarantined racks, retries, budget, shard
        write_properties(self.alluredir / "environment.properties", properties)
        matrix = OutcomeMatrix.from_results(latest_results(self.alluredir))
        if matrix:
            self.written = write_matrix(matrix, self.config.rootpath / REPORTS_DIR)
            attach_to_run(self.alluredir, [(f"Outcome matrix ({path.suffix[1:].upper()})", path)
                                           for path in self.written])

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.written:
            terminalreporter.write_line("outcome matrix: " + ", ".join(str(path) for path in self.written))

    def _bench(self) -> BenchConfig | None:
        """The run's bench file; None when it does not load (the run has said why already)."""
        try:
            return load_bench(bench_path(self.config))
        except ConfigError:
            return None
