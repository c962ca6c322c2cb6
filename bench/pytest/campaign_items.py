"""Campaign catalogs (``vehicle_campaign:``, bench.scenarios.campaign_catalog) as pytest items:
``<catalog>.yaml::<name>[<scenario id>]``, each running the campaign with the reference update
master on its own bench (bench.scenarios.campaign_runner), with the catalog's tags as markers.
Its Allure result holds a step per ECU and phase, the campaign's time-axis PNG and its final
version table (bench.report.campaign_report)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.image.builders import firmware_builder
from bench.pytest.run_state import held_rack, rack_pool, requirement_catalog, tag_markers
from bench.report.campaign_report import attach_campaign
from bench.rig import Bench
from bench.scenarios.campaign_catalog import CampaignScenario, load_campaign_catalog, package_sources
from bench.scenarios.campaign_runner import CampaignRun, play_campaign
from bench.scenarios.oracles import OutcomeViolation


def campaign_items(parent: pytest.File) -> Iterator[CampaignItem]:
    config = parent.config
    ecus = {name for rack in rack_pool(config).racks for name in rack.config.ecus}
    for scenario in load_campaign_catalog(parent.path, ecus=ecus, sources=package_sources(config.rootpath),
                                          requirements=requirement_catalog(config)):
        item = CampaignItem.from_parent(parent, name=f"{scenario.campaign}[{scenario.id}]", scenario=scenario)
        if scenario.requirements:  # claimed in the compliance matrix as a test's markers are
            item.add_marker(pytest.mark.requirements(*scenario.requirements))
        for marker in tag_markers(config, scenario.tags):
            item.add_marker(marker)
        yield item


class CampaignItem(pytest.Item):
    def __init__(self, *, scenario: CampaignScenario, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.scenario = scenario

    def runtest(self) -> None:
        workdir = self.config._tmp_path_factory.mktemp("campaign")  # noqa: SLF001 - pytest's tmp_path factory
        build = firmware_builder(self.config.rootpath)

        def recipe_bytes(recipe: str) -> bytes:
            image = build(recipe)
            if not hasattr(image, "to_bytes"):
                raise UsageError(f"{self.name}: {recipe!r} is a release of software files; name the file instead")
            return image.to_bytes()

        play_campaign(held_rack(self), self.scenario, root=self.config.rootpath, workdir=workdir,
                      recipe_bytes=recipe_bytes, record=lambda rig, run: self._record(rig, run, workdir))

    def _record(self, rig: Bench, run: CampaignRun, workdir: Path) -> None:
        recording = getattr(self.config.option, "allure_report_dir", None) is not None
        table = attach_campaign(run, rig.flash_results(), workdir, picture=recording)
        self.add_report_section("call", "campaign versions", table)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None):  # noqa: ANN001, ANN201
        """A campaign finding reads as its message, as an ECU scenario's does."""
        if isinstance(excinfo.value, (OutcomeViolation, UsageError)):
            return f"{self.name}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.scenario.line - 1, self.name
