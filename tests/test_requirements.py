"""Requirement catalogs (testcases/requirements/*.yaml) and the ids that scenario catalogs and
tests name: clause formats, unknown ids with file:line or the test's node id, labels in Allure."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.nightly.verdicts import USAGE
from bench.scenarios.campaign_catalog import ecu_catalogs, load_campaign_catalog, package_sources
from bench.scenarios.catalog import load_catalog
from bench.scenarios.requirements import REQUIREMENTS_DIR, load_requirement_file, load_requirements
from rack_suite import REPO, allure_results, run_pytest

REQUIREMENTS = """\
document: {prefix: R156, title: UN Regulation No. 156, version: original series, url: https://example.org/r156,
           verified: in this test}
requirements:
  - {clause: 7.2.1.1, title: authentic updates, paraphrase: only valid updates, evidence: refusals, verified: true, confirmed_by: the OJ copy}
  - {clause: 7.2.2.1.1, title: restore, paraphrase: old version or safe state, evidence: power cuts, verified: true, confirmed_by: the OJ copy}
  - {clause: 7.2.2.1.2, title: energy, paraphrase: enough power, evidence: brown-outs, verified: false}
out_of_scope:
  - {clause: 7.2.2.2, why: the vehicle's HMI}
"""

CATALOG = """\
campaign: cuts
requirements: [R156-7.2.2.1.1, {ids}]
matrix: {{ecu: bcm, fault: power_cut, at: erase, to: app-2.0.0}}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_shipped_catalogs_load_and_every_catalog_names_known_requirements() -> None:
    catalog = load_requirements(REPO / REQUIREMENTS_DIR)
    assert catalog is not None
    assert {"R156-7.2.1.1", "R156-7.2.2.1.1", "GB44496-5.2.5"} <= set(catalog.requirements)
    assert "R156-7.2.2.2" in catalog.out_of_scope
    for path in ecu_catalogs(REPO / "testcases" / "scenarios"):
        load_catalog(path, ecus={"bcm": "single_bank", "bms": "ab", "eps": "his"}, requirements=catalog)  # raises on an unknown id
    for path in sorted((REPO / "testcases" / "scenarios").glob("campaign-*.yaml")):
        load_campaign_catalog(path, ecus={"bcm", "bms", "eps"}, sources=package_sources(REPO), requirements=catalog)


@pytest.mark.parametrize("clause, message", [
    ('"7.2.2."', "no trailing dot"),
    ('"7.2a"', "digits and dots"),
    ('"§7.2"', "digits and dots"),
    ("7.2", "write the clause in quotes"),
])
def test_a_clause_not_numbered_as_in_the_text_is_reported_with_its_line(tmp_path: Path, clause: str,
                                                                         message: str) -> None:
    text = REQUIREMENTS.replace("clause: 7.2.2.1.2,", f"clause: {clause},")
    path = write(tmp_path / "r156.yaml", text)
    with pytest.raises(ConfigError) as error:
        load_requirement_file(path)
    assert f"{path}:6: requirements[2].clause" in str(error.value) and message in str(error.value)


def test_a_requirement_that_does_not_say_whether_its_clause_was_verified_is_reported(tmp_path: Path) -> None:
    text = REQUIREMENTS.replace("power cuts, verified: true, confirmed_by: the OJ copy}", "power cuts}")
    path = write(tmp_path / "r156.yaml", text)
    with pytest.raises(ConfigError) as error:
        load_requirement_file(path)
    assert f"{path}:5: requirements[1].verified" in str(error.value)


def test_a_verified_clause_names_what_confirmed_it_and_an_unverified_one_does_not(tmp_path: Path) -> None:
    text = REQUIREMENTS.replace("refusals, verified: true, confirmed_by: the OJ copy}", "refusals, verified: true}")
    text = text.replace("brown-outs, verified: false}", "brown-outs, verified: false, confirmed_by: a blog}")
    path = write(tmp_path / "r156.yaml", text)
    with pytest.raises(ConfigError) as error:
        load_requirement_file(path)
    assert f"{path}:4: requirements[0].verified: clause 7.2.1.1 is verified: say against what" in str(error.value)
    assert f"{path}:6: requirements[2].confirmed_by: clause 7.2.2.1.2 is not verified" in str(error.value)

    requirements, _ = load_requirement_file(write(tmp_path / "r156.yaml", REQUIREMENTS))
    assert [requirement.confirmed_by for requirement in requirements] == ["the OJ copy", "the OJ copy", None]


def test_a_clause_listed_twice_or_both_in_and_out_of_scope_is_reported(tmp_path: Path) -> None:
    text = REQUIREMENTS.replace("clause: 7.2.2.1.2,", "clause: 7.2.1.1,").replace("7.2.2.2, why", "7.2.2.1.1, why")
    with pytest.raises(ConfigError) as error:
        load_requirement_file(write(tmp_path / "r156.yaml", text))
    assert "clause 7.2.1.1 is listed twice (first on line 4)" in str(error.value)
    assert "clause 7.2.2.1.1 is also a requirement (line 5)" in str(error.value)


def test_an_unknown_id_in_a_scenario_catalog_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    catalog = load_requirements(write(tmp_path / "requirements" / "r156.yaml", REQUIREMENTS).parent)
    path = write(tmp_path / "scenarios" / "cuts.yaml", CATALOG.format(ids="R156-7.2.2.1.3, R156-7.2.2.2, R156-7.2"))
    with pytest.raises(ConfigError) as error:
        load_catalog(path, ecus={"bcm": "single_bank"}, requirements=catalog)
    text = str(error.value)
    assert f"{path}:2: requirements[1]: unknown requirement 'R156-7.2.2.1.3'; did you mean 'R156-7.2.2.1.2'?" in text
    assert "'R156-7.2.2.2' is listed as out of scope for a bench (the vehicle's HMI)" in text
    assert "requirements[3]: a requirement id is a document prefix and a clause" not in text  # well-formed...
    assert "unknown requirement 'R156-7.2'" in text  # ...but unknown


def test_a_catalog_with_known_ids_gives_them_to_every_scenario(tmp_path: Path) -> None:
    catalog = load_requirements(write(tmp_path / "requirements" / "r156.yaml", REQUIREMENTS).parent)
    path = write(tmp_path / "scenarios" / "cuts.yaml", CATALOG.format(ids="R156-7.2.1.1"))
    [scenario] = load_catalog(path, ecus={"bcm": "single_bank"}, requirements=catalog)
    assert scenario.requirements == ("R156-7.2.2.1.1", "R156-7.2.1.1")


TESTS = """\
import pytest

@pytest.mark.requirements("R156-7.2.2.1.1")
def test_restores():
    pass

@pytest.mark.requirements("R156-7.2.2.1.1", "R156-7.2.1.1")
def test_refuses():
    assert False, "the ECU ran a foreign image"

@pytest.mark.requirements("R156-7.2.2.1.2")
@pytest.mark.skip(reason="no supply on this rack")
def test_energy():
    pass
"""


def suite(tmp_path: Path, tests: str) -> Path:
    write(tmp_path / REQUIREMENTS_DIR / "r156.yaml", REQUIREMENTS)
    write(tmp_path / "test_traced.py", tests)
    (tmp_path / "fixtures").symlink_to(REPO / "fixtures")
    return tmp_path


def test_an_unknown_id_in_a_marker_stops_the_run_as_a_usage_error_naming_the_test(tmp_path: Path) -> None:
    suite(tmp_path, TESTS.replace('requirements("R156-7.2.1.1"', 'requirements("R156-7.2.1.2"')
          .replace('"R156-7.2.2.1.1", "R156-7.2.1.1"', '"R156-7.2.2.1.1", "R156-7.2.1.9"'))
    done = run_pytest(tmp_path, "-p", "no:xdist")
    assert done.returncode == USAGE, done.stdout + done.stderr
    assert "test_traced.py::test_refuses: unknown requirement 'R156-7.2.1.9'" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_run_labels_each_test_and_writes_the_compliance_matrix(tmp_path: Path, workers: list[str]) -> None:
    suite(tmp_path, TESTS)
    done = run_pytest(tmp_path, "--alluredir", "allure", *workers)
    assert done.returncode == 1, done.stdout + done.stderr

    labels = {result["name"]: sorted(label["value"] for label in result["labels"] if label["name"] == "requirement")
              for result in allure_results(tmp_path / "allure")}
    assert labels["test_refuses"] == ["R156-7.2.1.1", "R156-7.2.2.1.1"]
    links = [result["links"] for result in allure_results(tmp_path / "allure") if result["name"] == "test_restores"]
    assert links == [[{"type": "requirement", "url": "https://example.org/r156", "name": "R156-7.2.2.1.1"}]]

    with (tmp_path / "reports" / "compliance-matrix.csv").open() as file:
        rows = {row["requirement"]: row for row in csv.DictReader(file)}
    assert rows["R156-7.2.2.1.1"]["verdict"] == "failed" and rows["R156-7.2.2.1.1"]["ran"] == "2"
    assert rows["R156-7.2.2.1.1"]["problems"] == "test_refuses"
    assert rows["R156-7.2.1.1"]["verdict"] == "failed"
    assert rows["R156-7.2.2.1.2"]["verdict"] == "not run" and rows["R156-7.2.2.1.2"]["claimed"] == "1"
    assert rows["R156-7.2.2.1.2"]["clause_verified"] == "no"
    assert "compliance matrix (" in done.stdout
