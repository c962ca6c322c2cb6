"""Allure labels and parameters: what a report filters, groups and sorts tests by.

Scenario items (one per catalog scenario): epic ``OTA scenarios``, feature = campaign, story =
fault kind, severity (the kind's, ``critical`` for power faults), the catalog's tags (as pytest markers,
which allure-pytest turns into tags), labels ``campaign``, ``ecu``, ``fault``, ``phase``,
``trigger``, ``seed``, ``bench``, and the scenario's dimensions as parameters (which also keep
the scenarios of one campaign apart in Allure's history). Bench tests get ``bench`` and ``ecu``.
Scenarios and tests that name requirements (a catalog's ``requirements:``, the ``requirements``
marker) get a ``requirement`` label and a link to the document per requirement. Vehicle campaign
scenarios get the epic, feature = campaign, story = fault, labels ``campaign``, ``fault``,
``trigger``, ``ecu`` (the ECU whose package the fault changes) and ``bench``, and as parameters
what their id is made of: one test each in Allure and its history, not retries of one.

Labels are added as the test starts (``allure.dynamic``): for scenario and campaign items by
``bench.pytest.report_hooks`` at set-up, for tests by the ``bench`` and ``ecu`` fixtures. allure-pytest
takes the rest of a custom item's result (name, status, markers as tags) from the item itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import allure

from bench.faults.kinds import fault_kind
from bench.faults.kinds.base import point_class
from bench.report.results import REQUIREMENT_LABEL

if TYPE_CHECKING:
    from bench.scenarios.campaign_catalog import CampaignScenario
    from bench.scenarios.catalog import Scenario

SCENARIO_EPIC = "OTA scenarios"


def phase_of(trigger: str) -> str:
    """The class of a trigger point: ``page:12`` → ``page``, ``block:3`` → ``block``, ``erase`` and
    ``erase@1`` (in logical block 1) → ``erase``."""
    return point_class(trigger)


def scenario_labels(scenario: Scenario, bench: str) -> dict[str, str]:
    """Custom labels of a scenario (besides epic, feature, story and severity)."""
    return {"campaign": scenario.campaign, "ecu": scenario.ecu, "fault": scenario.fault,
            "phase": phase_of(scenario.at), "trigger": scenario.at, "seed": str(scenario.seed), "bench": bench,
            "transport": scenario.transport}


def scenario_parameters(scenario: Scenario) -> dict[str, object]:
    """What the scenario is made of: its matrix dimensions, then the fault's own parameters. The
    transport only when it is not ``can``: Allure's history keys on the parameters, and scenarios
    made before the transport existed keep theirs."""
    over = {} if scenario.transport == "can" else {"transport": scenario.transport}
    return {"ecu": scenario.ecu, "fault": scenario.fault, "trigger": scenario.at,
            "interruptions": scenario.interruptions, "seed": scenario.seed, "package": scenario.package,
            "from": scenario.from_image, "to": scenario.to_image, **over, **scenario.params}


def label_scenario(scenario: Scenario, bench: str) -> None:
    """Label the Allure result of the running scenario item."""
    allure.dynamic.epic(SCENARIO_EPIC)
    allure.dynamic.feature(scenario.campaign)
    allure.dynamic.story(scenario.fault)
    allure.dynamic.severity(allure.severity_level(fault_kind(scenario.fault).severity))
    for name, value in scenario_labels(scenario, bench).items():
        allure.dynamic.label(name, value)
    for name, value in scenario_parameters(scenario).items():
        allure.dynamic.parameter(name, AsWritten(value))


def campaign_scenario_labels(scenario: CampaignScenario, bench: str) -> dict[str, str]:
    """Custom labels of a vehicle campaign scenario (besides epic, feature and story)."""
    return {name: value for name, value in (("campaign", scenario.campaign), ("fault", scenario.fault),
                                            ("trigger", scenario.at), ("ecu", scenario.ecu), ("bench", bench)) if value}


def campaign_scenario_parameters(scenario: CampaignScenario) -> dict[str, str]:
    """What a vehicle campaign scenario's id is made of: the fault, its moment, the ECU whose
    package it changes with that package, and how long a moving vehicle or a cut bus lasts."""
    parameters = {"fault": scenario.fault, "trigger": scenario.at}
    if scenario.ecu:
        parameters |= {"ecu": scenario.ecu, "package": scenario.targets[scenario.ecu].to[1]}
    if scenario.parks_after:
        parameters["parks_after"] = f"{scenario.parks_after:g} s"
    if scenario.lasting:
        parameters["lasting"] = f"{scenario.lasting:g} s"
    return {name: value for name, value in parameters.items() if value}


def label_campaign_scenario(scenario: CampaignScenario, bench: str) -> None:
    """Label the Allure result of the running vehicle campaign item."""
    allure.dynamic.epic(SCENARIO_EPIC)
    allure.dynamic.feature(scenario.campaign)
    allure.dynamic.story(scenario.fault)
    for name, value in campaign_scenario_labels(scenario, bench).items():
        allure.dynamic.label(name, value)
    for name, value in campaign_scenario_parameters(scenario).items():
        allure.dynamic.parameter(name, AsWritten(value))


class AsWritten:
    """A parameter value Allure shows as written: allure-python shows a value's ``repr``, which
    quotes text (``'bms'``); a report's reader wants ``bms``."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        return str(self.value)


def label_bench(name: str) -> None:
    allure.dynamic.label("bench", name)


def label_ecu(name: str) -> None:
    allure.dynamic.label("ecu", name)


def label_requirements(ids: Iterable[str], urls: Mapping[str, str | None]) -> None:
    """A ``requirement`` label per requirement the running test demonstrates (Allure filters and
    groups by it) and a link to the document it comes from (``urls``: id → the document's URL)."""
    for requirement_id in ids:
        allure.dynamic.label(REQUIREMENT_LABEL, requirement_id)
        url = urls.get(requirement_id)
        if url:
            allure.dynamic.link(url, link_type=REQUIREMENT_LABEL, name=requirement_id)
