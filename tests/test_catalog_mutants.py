"""The shipped scenario catalogs catch every mutant bootloader (bench.sim.mutants).

For each mutant, scenarios taken from ``testcases/scenarios`` by their ids are run exactly as
``pytest testcases/scenarios`` runs them: against the bench with the mutant on the scenario's
ECU they must fail with an ECU finding, against the reference ECU they must pass. A scenario
that passed both would mean the catalog misses that defect (tests/test_mutants.py does the same
for the Python OTA suites of testcases/). Both go through ``bench.scenarios.runner.play``, the
runner ``pytest testcases/scenarios`` uses. A defect that only shows across a campaign is proven
the same way with the vehicle campaign catalogs (``bench.scenarios.campaign_runner``): the mutant
on one target, the campaign's counter oracle must name it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.image.builders import firmware_builder
from bench.scenarios.campaign_catalog import ecu_catalogs, load_campaign_catalog, package_sources
from bench.scenarios.campaign_oracles import CounterMoved
from bench.scenarios.catalog import Scenario, load_catalog
from bench.scenarios.oracles import OutcomeViolation
from bench.scenarios.runner import play
from bench.sim.mutants import MUTANTS
from bench.vehicle.master import UpdateMaster
from campaigns import play as play_campaign

REPO = Path(__file__).resolve().parents[1]
CATALOGS = REPO / "testcases" / "scenarios"

CAUGHT_BY = {  # mutant -> catalog scenarios (campaign, id) that must catch it
    "switch_before_verify": [("refused-updates", "bms-full-power_cut@check-factory-to-app-2.0.0-foreign"),
                             ("refused-updates", "bms-full-power_cut@session-factory-to-app-2.0.0-foreign")],
    "ignore_anti_rollback": [("refused-updates", "bms-full-power_cut@check-factory-to-app-0.9.0-downgrade"),
                             ("refused-updates", "bms-full-power_cut@first_block-factory-to-app-0.9.0-downgrade")],
    "no_trial_rollback": [("refused-updates", "bms-full-power_cut@session-factory-to-app-2.0.0-selftest-fail"),
                          ("refused-updates", "bms-full-power_cut@boot")],
    "no_invalidate_on_erase": [("power-loss", "bcm-full-power_cut@sector:5"),
                               ("power-loss", "bcm-full-power_cut@page:77")],
    "forget_journal": [("power-loss", "bcm-full-power_cut@page:153"),
                       ("double-interruption", "bcm-full-power_cut@page:100-x2"),
                       ("doip", "bcm-doip-full-power_cut@block:3")],  # over DoIP too (transport: doip)
    "torn_page_ok": [("power-loss", "bcm-full-power_cut@page:153"),
                     ("power-loss", "bcm-full-power_cut@page:189")],
    "his_crc_not_checked": [("network", "eps-full-corruption@block:5@0-s9"),
                            ("network", "eps-full-corruption@block:2@1-s17")],
    "his_erases_wrong_block": [("power-loss", "eps-full-power_cut@session"),
                               ("power-loss", "eps-full-power_cut@page:784")],
    "his_keeps_valid_on_erase": [("power-loss", "eps-full-power_cut@page:64"),
                                 ("power-loss", "eps-full-power_cut@page:784")],
    "late_programming_session": [("power-loss", "bcm-full-power_cut@page:77"),
                                 ("power-loss", "bms-full-power_cut@block:2"),
                                 ("doip", "bms-doip-full-power_cut@block:3")],
}
CAMPAIGN_CAUGHT_BY = {  # mutant -> campaign catalog scenarios (campaign, id, the target given the mutant)
    # committed: the counter moved at bms's confirmation, before the master committed
    "early_anti_rollback": [("campaign-anti-rollback", "master_reset@confirmed", "bms"),
                            # rolled back late: bcm's counter moved at its install, its old software refused
                            ("campaign-anti-rollback", "moving_vehicle@installed:bms", "bcm")],
}
CONFORMANCE_ONLY = {
    # A tester that follows the HIS sequence erases a block before every download of it, also when
    # it restarts an interrupted block; no fault on the bus or the supply makes it skip the erase.
    # tests/test_his_dialect.py sends the RequestDownload without the erase and catches it there.
    "his_download_before_erase": "tests/test_his_dialect.py::test_a_block_is_downloaded_only_after_its_erase",
}
CASES = [(mutant, campaign, scenario) for mutant, ids in CAUGHT_BY.items() for campaign, scenario in ids]


@pytest.fixture(scope="module")
def virtual_bench() -> BenchConfig:
    return load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")


@pytest.fixture(scope="module")
def shipped(virtual_bench: BenchConfig) -> dict[tuple[str, str], Scenario]:
    kinds = {name: virtual_bench.profiles[ecu.profile].bootloader for name, ecu in virtual_bench.ecus.items()}
    return {(s.campaign, s.id): s for path in ecu_catalogs(CATALOGS) for s in load_catalog(path, ecus=kinds)}


def with_mutant(config: BenchConfig, ecu: str, mutant: str | None) -> BenchConfig:
    original = config.ecus[ecu]
    virtual = original.virtual.model_copy(update={"mutant": mutant})
    return config.model_copy(update={"ecus": {**config.ecus, ecu: original.model_copy(update={"virtual": virtual})}})


def run(config: BenchConfig, scenario: Scenario, workdir: Path) -> OutcomeViolation | None:
    """The ECU finding the scenario raised, or None; a bench fault is never taken for a finding."""
    try:
        play(config, scenario, firmware_builder(REPO), workdir=workdir)
    except OutcomeViolation as violation:
        return violation
    return None


@pytest.mark.parametrize(("mutant", "campaign", "scenario_id"), CASES, ids=[f"{m}-{c}[{s}]" for m, c, s in CASES])
def test_the_catalog_scenario_catches_the_mutant_and_passes_the_reference(
        mutant: str, campaign: str, scenario_id: str, virtual_bench, shipped, tmp_path: Path) -> None:
    scenario = shipped[(campaign, scenario_id)]
    finding = run(with_mutant(virtual_bench, scenario.ecu, mutant), scenario, tmp_path / "mutant")
    assert finding is not None, f"{campaign}[{scenario_id}] misses mutant {mutant!r} ({MUTANTS[mutant].defect})"
    assert run(with_mutant(virtual_bench, scenario.ecu, None), scenario, tmp_path / "reference") is None


CAMPAIGN_CASES = [(mutant, *case) for mutant, cases in CAMPAIGN_CAUGHT_BY.items() for case in cases]


@pytest.mark.parametrize(("mutant", "campaign", "scenario_id", "ecu"), CAMPAIGN_CASES,
                         ids=[f"{m}-{c}[{s}]-{e}" for m, c, s, e in CAMPAIGN_CASES])
def test_the_campaign_scenario_catches_the_mutant_and_passes_the_reference(
        mutant: str, campaign: str, scenario_id: str, ecu: str, virtual_bench, tmp_path: Path) -> None:
    scenarios = {s.id: s for s in load_campaign_catalog(CATALOGS / f"{campaign}.yaml", ecus=set(virtual_bench.ecus),
                                                        sources=package_sources(REPO))}
    scenario = scenarios[scenario_id]
    with pytest.raises(CounterMoved, match=ecu):
        play_campaign(with_mutant(virtual_bench, ecu, mutant), scenario, tmp_path / "mutant", UpdateMaster)
    play_campaign(with_mutant(virtual_bench, ecu, None), scenario, tmp_path / "reference", UpdateMaster)


def test_every_mutant_is_caught_by_some_catalog_scenario() -> None:
    proven = [set(CAUGHT_BY), set(CAMPAIGN_CAUGHT_BY), set(CONFORMANCE_ONLY)]
    assert set.union(*proven) == set(MUTANTS) and sum(map(len, proven)) == len(MUTANTS)
