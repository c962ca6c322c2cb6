"""pytest hooks of requirement traceability (``bench.pytest.plugin`` loads this module).

Scenario items name requirements through their catalog (``requirements:``), Python tests
through the marker ``@pytest.mark.requirements("R156-7.2.2.1.1", ...)``. At collection an id that
no requirement catalog (``testcases/requirements/*.yaml``) defines stops the run as a usage error
naming the test; the ids every collected item names are counted (the run's *claims*, before
sampling and selection), in pytest-xdist workers too, which hand them to the controller. As a test
starts it gets a ``requirement`` label and link per id. At the end of a run with ``--alluredir``,
the process that owns it writes the claims into the results folder (the merge of shards reads
them) and the compliance matrix, ``reports/compliance-matrix.{html,csv}``, attached to the report.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.pytest.collect import ScenarioItem
from bench.pytest.report_hooks import alluredir, owns_the_run
from bench.pytest.run_state import requirement_catalog
from bench.report.compliance import ComplianceMatrix, write_claims
from bench.report.labels import label_requirements
from bench.report.matrix_files import REPORTS_DIR, write_compliance
from bench.report.results import attach_to_run, latest_results

MARKER = "requirements"
CLAIMS = pytest.StashKey[Counter]()
"""Requirement id → collected items naming it (in the controller: of every worker)."""
WORKER_OUTPUT = "ota_requirement_claims"


def requirements_of(item: pytest.Item) -> tuple[str, ...]:
    """The requirements ``item`` demonstrates: its catalog's, or its markers' (every ``requirements``
    marker, closest first)."""
    if isinstance(item, ScenarioItem):
        return item.scenario.requirements
    return tuple(dict.fromkeys(str(name) for marker in item.iter_markers(MARKER) for name in marker.args))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(*ids): requirements the test demonstrates, e.g. R156-7.2.2.1.1 "
                                       "(testcases/requirements/*.yaml)")
    config.stash[CLAIMS] = Counter()
    directory = alluredir(config)
    if directory is not None and owns_the_run(config) and not config.option.collectonly:
        config.pluginmanager.register(ComplianceSummary(config, directory), "bench-compliance-summary")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check the markers' ids and count the claims of the whole collection, before sampling,
    ``-k``/``-m`` and shards keep their part."""
    catalog = requirement_catalog(config)
    claims: Counter = Counter()
    problems = []
    for item in items:
        ids = requirements_of(item)
        if ids and not isinstance(item, ScenarioItem):  # a catalog's ids were checked as it loaded
            problems += [f"{item.nodeid}: {why}" for why in catalog.unknown(ids)]
        claims.update(ids)
    if problems:
        raise pytest.UsageError("requirements marker:\n  " + "\n  ".join(problems))
    config.stash[CLAIMS] = claims


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    ids = requirements_of(item)
    catalog = requirement_catalog(item.config)
    if ids:
        label_requirements(ids, {requirement_id: catalog.requirements[requirement_id].url for requirement_id in ids
                                 if requirement_id in catalog})


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker hands its claims to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output[WORKER_OUTPUT] = dict(session.config.stash[CLAIMS])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001 - pytest-xdist's WorkerController
    """Every worker collected the whole suite: the controller keeps the largest count per id."""
    claims = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT, {})
    stash = node.config.stash[CLAIMS]
    for requirement_id, count in claims.items():
        stash[requirement_id] = max(count, stash[requirement_id])


class ComplianceSummary:
    """Writes the claims and the compliance matrix at the end of the run."""

    def __init__(self, config: pytest.Config, directory: Path) -> None:
        self.config, self.directory = config, directory
        self.written: list[Path] = []
        self.verdicts: dict[str, int] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        catalog = requirement_catalog(self.config)
        if not catalog.requirements:
            return
        directory = self.directory
        directory.mkdir(parents=True, exist_ok=True)
        claims = self.config.stash[CLAIMS]
        write_claims(directory, claims)
        matrix = ComplianceMatrix.from_results(catalog, latest_results(directory), claims)
        self.verdicts = matrix.verdicts()
        self.written = write_compliance(matrix, self.config.rootpath / REPORTS_DIR)
        attach_to_run(directory, [(f"Compliance matrix ({path.suffix[1:].upper()})", path) for path in self.written])

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.written:
            counts = ", ".join(f"{count} {verdict}" for verdict, count in self.verdicts.items())
            terminalreporter.write_line(f"compliance matrix ({counts}): " + ", ".join(map(str, self.written)))
