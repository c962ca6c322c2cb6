"""YAML catalogs as pytest items: ``pytest testcases/scenarios`` runs every expanded scenario.

Which YAML files (``.yaml``, ``.yml``) are catalogs, wherever pytest is pointed: every one in a
folder named ``scenarios``; elsewhere, one whose top level says ``campaign: NAME`` (so bench
files, recipes and CI files beside them are left alone); and any one named on the command line.
One whose top level says ``vehicle_campaign: NAME`` is a campaign catalog (its items:
bench.pytest.campaign_items).

A catalog mistake stops the run at collection, before any scenario: the error is the catalog's
``file:line: key: message`` list, without a traceback, and the run exits with 4 (a usage error).

Each scenario is one item, ``<catalog>.yaml::<campaign>[<scenario id>]``, with the catalog's
tags as markers, so ``-k``, ``-m`` and ``pytest "<id>"`` select as usual. Each item brings up
its own bench (own virtual channels, fresh NVM), so runs under pytest-xdist give the same
verdicts as serial runs.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from bench.errors import ConfigError, SuspectedBenchFault, UsageError
from bench.faults.timeline import FaultTimeline
from bench.image.builders import FIRMWARE_DIR, delta_builder, firmware_builder
from bench.pytest.campaign_items import campaign_items
from bench.pytest.run_state import ecu_profiles, held_rack, rack_pool, requirement_catalog, tag_markers
from bench.pytest.suspected import SUSPICION, suspected_instead
from bench.report.evidence import record_evidence
from bench.report.suspicion import suspect_bench
from bench.rig import Bench
from bench.scenarios.campaign_catalog import is_campaign_catalog
from bench.scenarios.catalog import Scenario, load_catalog
from bench.scenarios.oracles import OutcomeViolation
from bench.scenarios.reach import downloads
from bench.scenarios.runner import play


CATALOG_FOLDER = "scenarios"
_CAMPAIGN = re.compile(rb"^(vehicle_)?campaign:[ \t]*[^\s#]", re.MULTILINE)
"""A top-level ``campaign:`` (or ``vehicle_campaign:``) with its name on the line (a CI job named
``campaign:`` has none)."""


def is_catalog(path: Path, named: Collection[Path] = ()) -> bool:
    """Whether pytest collects the file at ``path`` as a scenario catalog; ``named``: the files
    given on the command line."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    if path.parent.name == CATALOG_FOLDER or path.resolve() in named:
        return True
    try:
        return _CAMPAIGN.search(path.read_bytes()) is not None
    except OSError:
        return False


def named_files(config: pytest.Config) -> set[Path]:
    """The files named on the command line (``path.yaml`` or ``path.yaml::item``)."""
    return {(config.invocation_params.dir / arg.split("::")[0]).resolve() for arg in config.args}


class CatalogFile(pytest.File):
    usage_error: str | None = None
    """The catalog's mistake, when collecting it failed on one."""

    def collect(self) -> Iterator[pytest.Item]:
        if is_campaign_catalog(self.path):
            try:
                yield from campaign_items(self)
            except ConfigError as exc:
                self.usage_error = str(exc)
                raise
            return
        profiles = ecu_profiles(self.config)  # of every rack of the pool
        kinds = {name: profile.bootloader for name, profile in profiles.items()}
        deltas = [name for name, profile in profiles.items() if profile.delta is not None]
        recipes = {path.stem for path in (self.config.rootpath / FIRMWARE_DIR).glob("*.yaml")}
        sizes = downloads([rack.config for rack in rack_pool(self.config).racks],
                          firmware_builder(self.config.rootpath), delta_builder(self.config.rootpath))
        try:
            scenarios = load_catalog(self.path, ecus=kinds, firmware=recipes, delta_ecus=deltas, downloads=sizes,
                                     requirements=requirement_catalog(self.config))
        except ConfigError as exc:
            self.usage_error = str(exc)
            raise
        for scenario in scenarios:
            item = ScenarioItem.from_parent(self, name=f"{scenario.campaign}[{scenario.id}]", scenario=scenario)
            for marker in tag_markers(self.config, scenario.tags):
                item.add_marker(marker)
            yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None):  # noqa: ANN001, ANN201
        """A catalog mistake reads as the catalog's list of problems: no traceback."""
        if isinstance(excinfo.value, ConfigError):
            return f"scenario catalog error (fix the catalog; no scenario ran):\n{excinfo.value}"
        return super().repr_failure(excinfo, style=style)


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.scenario = scenario

    def runtest(self) -> None:
        workdir = self.config._tmp_path_factory.mktemp("scenario")  # noqa: SLF001 - pytest's tmp_path factory
        try:
            play(held_rack(self), self.scenario, firmware_builder(self.config.rootpath), workdir=workdir,
                 deltas=delta_builder(self.config.rootpath), record=self._record)
        except Exception as finding:
            suspected = suspected_instead(self, finding)
            if suspected is None:
                raise
            raise suspected from finding

    def _record(self, rig: Bench, failed: bool, before: dict[str, str], timeline: FaultTimeline) -> None:
        """The scenario's evidence, and, when it failed, what that evidence says against the bench."""
        record_evidence(self, rig, failed=failed, before=before, faults=timeline)
        if failed:
            self.stash[SUSPICION] = suspect_bench(rig, timeline, fault_armed=True)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None):  # noqa: ANN001, ANN201
        """An ECU finding reads as its message: which expectation failed and what the ECU did; so
        does a catalog mistake only the run finds (a ``UsageError``), with no traceback; a suspected
        bench fault as its reason, what was seen, and the finding it stands for."""
        error = excinfo.value
        if isinstance(error, OutcomeViolation):
            return f"{self.name}: {error}" + (f"\n{error.ecu_state}" if error.ecu_state else "")
        if isinstance(error, UsageError):
            return f"{self.name}: {error}"
        if isinstance(error, SuspectedBenchFault):
            return f"{self.name}: suspected bench fault: {error.reason}\n{error.details}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.scenario.line - 1, self.name
