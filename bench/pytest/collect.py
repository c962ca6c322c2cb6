"""YAML catalogs as pytest items: ``pytest testcases/scenarios`` runs every expanded scenario.

Each scenario is one item, ``<catalog>.yaml::<campaign>[<scenario id>]``, with the catalog's
tags as markers, so ``-k``, ``-m`` and ``pytest "<id>"`` select as usual. Each item brings up
its own bench (own virtual channels, fresh NVM), so runs under pytest-xdist give the same
verdicts as serial runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.image.builders import FIRMWARE_DIR, delta_builder, firmware_builder
from bench.pytest.run_state import ecu_profiles, held_rack, requirement_catalog
from bench.report.evidence import record_evidence
from bench.scenarios.catalog import Scenario, load_catalog
from bench.scenarios.oracles import OutcomeViolation
from bench.scenarios.runner import play


def is_catalog(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and path.parent.name == "scenarios"


class CatalogFile(pytest.File):
    def collect(self) -> Iterator[ScenarioItem]:
        profiles = ecu_profiles(self.config)  # of every rack of the pool
        kinds = {name: profile.bootloader for name, profile in profiles.items()}
        deltas = [name for name, profile in profiles.items() if profile.delta is not None]
        recipes = {path.stem for path in (self.config.rootpath / FIRMWARE_DIR).glob("*.yaml")}
        for scenario in load_catalog(self.path, ecus=kinds, firmware=recipes, delta_ecus=deltas,
                                     requirements=requirement_catalog(self.config)):
            item = ScenarioItem.from_parent(self, name=f"{scenario.campaign}[{scenario.id}]", scenario=scenario)
            for tag in scenario.tags:
                self.config.addinivalue_line("markers", f"{tag}: tag of catalog scenarios")
                item.add_marker(tag)
            yield item


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.scenario = scenario

    def runtest(self) -> None:
        workdir = self.config._tmp_path_factory.mktemp("scenario")  # noqa: SLF001 - pytest's tmp_path factory
        play(held_rack(self), self.scenario, firmware_builder(self.config.rootpath), workdir=workdir,
             deltas=delta_builder(self.config.rootpath),
             record=lambda rig, failed, before, timeline: record_evidence(self, rig, failed=failed, before=before,
                                                                          faults=timeline))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None):  # noqa: ANN001, ANN201
        """An ECU finding reads as its message: which expectation failed and what the ECU did."""
        if isinstance(excinfo.value, OutcomeViolation):
            return f"{self.name}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.scenario.line - 1, self.name
