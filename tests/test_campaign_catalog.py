"""Campaign catalogs: validated with file:line errors, run with the reference update master, and
every mutant update master (bench.vehicle.mutants) caught by a shipped campaign scenario that
the reference passes (as tests/test_catalog_mutants.py proves for the mutant bootloaders)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.errors import ConfigError
from bench.report.campaign_report import phase_spans, version_table, write_timeline_png
from bench.report.labels import campaign_scenario_parameters
from bench.rig import Bench
from bench.scenarios.campaign_catalog import CampaignScenario, load_campaign_catalog, package_sources
from bench.scenarios.campaign_runner import CampaignRun
from bench.scenarios.oracles import OutcomeViolation
from bench.vehicle.master import UpdateMaster
from bench.vehicle.mutants import MUTANT_MASTERS
from campaigns import play

REPO = Path(__file__).resolve().parents[1]
CATALOGS = sorted((REPO / "testcases" / "scenarios").glob("campaign-*.yaml"))
ECUS = {"bcm", "bms", "eps"}

CAUGHT_BY = {  # mutant master -> shipped campaign scenario (catalog, id) that catches it
    "activates_before_all_verified": ("campaign-refusals", "eps-tampered_package"),
    "commits_before_confirmed": ("campaign-refusals", "bms-refused_package-app-2.0.0-selftest-fail"),
    "ignores_order": ("campaign-power-loss", "vehicle_power_loss@committed"),
    "forgets_journal": ("campaign-power-loss", "master_reset@installed:bcm"),
    "skips_preconditions": ("campaign-refusals", "moving_vehicle@start"),
    "never_commits": ("campaign-anti-rollback", "master_reset@confirmed"),
    "rolls_back_after_committing": ("campaign-commit", "bus_partition@committing:bms-lasting-6s"),
}


@pytest.fixture(scope="module")
def bench_config() -> BenchConfig:
    return load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")


@pytest.fixture(scope="module")
def shipped() -> dict[tuple[str, str], CampaignScenario]:
    return {(s.campaign, s.id): s for path in CATALOGS
            for s in load_campaign_catalog(path, ecus=ECUS, sources=package_sources(REPO))}


def test_every_mutant_master_has_a_catalog_scenario() -> None:
    assert CAUGHT_BY.keys() == MUTANT_MASTERS.keys()


@pytest.mark.parametrize("mutant", CAUGHT_BY)
def test_the_campaign_scenario_catches_the_mutant_master_and_passes_the_reference(
        mutant: str, bench_config: BenchConfig, shipped, tmp_path: Path) -> None:
    scenario = shipped[CAUGHT_BY[mutant]]
    with pytest.raises(OutcomeViolation):
        play(bench_config, scenario, tmp_path / "mutant", MUTANT_MASTERS[mutant].master)
    play(bench_config, scenario, tmp_path / "reference", UpdateMaster)


def test_a_rolled_back_campaign_is_drawn_with_its_rollback_and_its_version_table(
        bench_config: BenchConfig, shipped, tmp_path: Path) -> None:
    seen: list[tuple[Bench, CampaignRun]] = []
    run = play(bench_config, shipped[("campaign-refusals", "bms-refused_package-app-2.0.0-foreign")],
               tmp_path, UpdateMaster, seen)
    assert run.outcome == "rolled_back"
    rig, _ = seen[0]
    spans = phase_spans(run, rig.flash_results())
    assert {(ecu, phase) for ecu, phase, _, _ in spans} >= {
        ("bcm", "download"), ("bcm", "activate"), ("bcm", "rollback"), ("eps", "rollback"), ("bms", "download")}
    assert ("bms", "rollback") not in {(ecu, phase) for ecu, phase, _, _ in spans}  # it never left 1.0.0
    path = tmp_path / "timeline.png"
    write_timeline_png(run, rig.flash_results(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = version_table(run).splitlines()
    assert table[1].split() == ["bcm", "1.0.0", "1.1.0", "1.0.0", "restored", "(reflash)", "1", ">", "-", ">", "1"]
    assert table[2].endswith("not checked: its his bootloader models no counter")    # eps


def test_a_power_loss_marks_its_fault_and_the_master_recovers(bench_config: BenchConfig, shipped,
                                                              tmp_path: Path) -> None:
    run = play(bench_config, shipped[("campaign-power-loss", "vehicle_power_loss@downloading:bms#2")],
               tmp_path, UpdateMaster)
    assert [fault for fault, _ in run.faults] == ["vehicle_power_loss"]
    assert "recover" in [point for point, _ in run.points] and run.outcome == "committed"


def catalog(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "campaign-demo.yaml"
    path.write_text("vehicle_campaign: demo\ntargets:\n  bcm: {from: [\"1.0.0\", app-1.0.0], to: [\"1.1.0\", "
                    "app-1.1.0]}\n" + textwrap.dedent(body))
    return path


def test_a_catalog_mistake_names_file_line_and_key(tmp_path: Path) -> None:
    path = catalog(tmp_path, """\
        scenarios:
          - {fault: vehicle_power_loss, at: ["installed:bms", "downloading:bcm"]}
          - {fault: refused_package, ecu: bcm, to: ["2.0.0", app-9.9.9]}
          - {fault: master_reset, at: start}
          - {fault: master_reset, at: accepted, ecu: bcm}
        """)
    with pytest.raises(ConfigError) as error:
        load_campaign_catalog(path, ecus=ECUS, sources=package_sources(REPO))
    text = str(error.value)
    assert f"{path}:5: scenarios[0].at[0]: 'bms' is no target of the campaign" in text
    assert f"{path}:5: scenarios[0].at[1]: unknown point 'downloading:bcm'" in text
    assert f"{path}:6: scenarios[1].to: no firmware recipe or software file 'app-9.9.9'" in text
    assert f"{path}:7: scenarios[2].at: master_reset strikes at a point the master reaches" in text
    assert f"{path}:8: scenarios[3]: master_reset takes 'ecu' and 'to' together" in text


def test_an_unknown_fault_is_a_schema_error_with_its_line(tmp_path: Path) -> None:
    path = catalog(tmp_path, "scenarios:\n  - {fault: power_cut}\n")
    with pytest.raises(ConfigError, match=r"campaign-demo.yaml:5: scenarios\[0\]\.fault"):
        load_campaign_catalog(path, ecus=ECUS, sources=package_sources(REPO))


def test_the_readme_example_is_a_valid_campaign_catalog(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    start = readme.index("vehicle_campaign: campaign-power-loss   #")
    path = tmp_path / "campaign-example.yaml"
    path.write_text(readme[start:readme.index("```", start)])
    scenarios = load_campaign_catalog(path, ecus=ECUS, sources=package_sources(REPO))
    assert [s.id for s in scenarios][-1] == "bms-refused_package-app-2.0.0-foreign"


CAMPAIGN = """\
vehicle_campaign: vehicle
targets:
  bcm: {from: ["1.0.0", app-1.0.0], to: ["1.1.0", app-1.1.0]}
  bms: {from: ["1.0.0", app-1.0.0], to: ["1.1.0", app-1.1.0], after: [bcm]}
scenarios:
  - {fault: master_reset, at: [accepted, "installed:bcm", confirmed]}
"""
ECU_CATALOG = "campaign: smoke\ndefaults: {to: app-2.0.0}\nmatrix: {ecu: bcm, fault: power_cut, at: [erase, check]}\n"


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "fixtures").symlink_to(REPO / "fixtures")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "smoke.yaml").write_text(ECU_CATALOG)
    return pytester


def test_campaign_items_sit_beside_ecu_items_and_a_sample_keeps_some_of_each(suite: pytest.Pytester) -> None:
    (suite.path / "scenarios" / "campaign-vehicle.yaml").write_text(CAMPAIGN)
    bench = str(REPO / "fixtures" / "benches" / "virtual.yaml")
    every = [line for line in suite.runpytest("--bench", bench, "--collect-only", "-q").outlines if "::" in line]
    assert "scenarios/campaign-vehicle.yaml::vehicle[master_reset@installed:bcm]" in every and len(every) == 5
    sample = [line for line in suite.runpytest("--bench", bench, "--collect-only", "-q", "--scenario-sample", "1")
              .outlines if "::" in line]
    assert len(sample) == 2 and sum("campaign-vehicle.yaml" in line for line in sample) == 1


def test_a_campaign_catalog_mistake_stops_collection_as_a_usage_error(suite: pytest.Pytester) -> None:
    (suite.path / "scenarios" / "campaign-vehicle.yaml").write_text(CAMPAIGN.replace("installed:bcm", "installed:eps"))
    result = suite.runpytest("--bench", str(REPO / "fixtures" / "benches" / "virtual.yaml"), "--collect-only", "-q")
    assert result.ret == 4
    result.stdout.fnmatch_lines(["*campaign-vehicle.yaml:6: scenarios[[]0[]].at[[]1[]]: 'eps' is no target*"])


def test_each_shipped_campaign_scenario_has_parameters_of_its_own(
        shipped: dict[tuple[str, str], CampaignScenario]) -> None:
    """Allure tells tests apart by name and parameters: without them, a catalog's scenarios would be
    one test in the report, the others its retries, and their histories one."""
    kept_apart = {(campaign, tuple(sorted(campaign_scenario_parameters(scenario).items())))
                  for (campaign, _), scenario in shipped.items()}
    assert len(kept_apart) == len(shipped)
    assert campaign_scenario_parameters(shipped["campaign-power-loss", "master_reset@installed:bcm"]) == {
        "fault": "master_reset", "trigger": "installed:bcm"}


def test_campaign_items_are_tests_of_their_own_in_allure_with_labels(suite: pytest.Pytester) -> None:
    (suite.path / "scenarios" / "campaign-vehicle.yaml").write_text(CAMPAIGN)
    result = suite.runpytest_subprocess("--bench", str(REPO / "fixtures" / "benches" / "virtual.yaml"),
                                        "--alluredir", "allure-results", "-k", "accepted or confirmed")
    result.assert_outcomes(passed=2)
    found = [json.loads(path.read_text()) for path in (suite.path / "allure-results").glob("*-result.json")]
    assert len({result["historyId"] for result in found}) == 2
    confirmed = next(result for result in found if result["name"] == "vehicle[master_reset@confirmed]")
    labels = {label["name"]: label["value"] for label in confirmed["labels"]}
    named = ("epic", "feature", "story", "campaign", "fault", "trigger", "bench")
    assert {name: labels.get(name) for name in named} == {
        "epic": "OTA scenarios", "feature": "vehicle", "story": "master_reset", "campaign": "vehicle",
        "fault": "master_reset", "trigger": "confirmed", "bench": "virtual-bench"}
    assert {(parameter["name"], parameter["value"]) for parameter in confirmed["parameters"]} == {
        ("fault", "master_reset"), ("trigger", "confirmed")}


def test_a_campaign_refused_against_the_catalogs_expectation_says_why(bench_config: BenchConfig,
                                                                      tmp_path: Path) -> None:
    """The `to` version a catalog names is not the one its recipe builds: the master refuses the
    package, and the verdict says so rather than only "ended refused"."""
    path = catalog(tmp_path, """\
        scenarios:
          - {fault: refused_package, ecu: bcm, to: ["2.0.0", app-2.0.0-selftest-fail], expect: rolled_back}
        """)
    [scenario] = load_campaign_catalog(path, ecus=ECUS, sources=package_sources(REPO))
    with pytest.raises(OutcomeViolation, match=r"the campaign ended refused, the catalog expects rolled_back "
                                               r"\(campaign refused \(package\): bcm: .* holds version 2\.0\.0-bad"):
        play(bench_config, scenario, tmp_path / "run", UpdateMaster)
