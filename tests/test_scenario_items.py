"""Catalog scenarios as pytest items: ids, selection, sampling, verdicts, xdist."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"

CATALOG = """\
campaign: smoke
tags: [smoke]
defaults: {from: factory, to: app-2.0.0}
matrix:
  ecu: [bcm, bms]
  fault: power_cut
  at: [erase, "block:2", "page:40"]
expect: {outcome: updated, versions: [old, new], max_resent_blocks: 1}
overrides:
  - when: {ecu: bcm}
    set: {expect: {versions: [old, new, bootloader]}}
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "fixtures").symlink_to(REPO / "fixtures")
    (pytester.path / "scenarios").mkdir()
    return pytester


def write(suite: pytest.Pytester, text: str, name: str = "smoke.yaml") -> None:
    (suite.path / "scenarios" / name).write_text(text)


def test_each_expanded_case_is_an_item_with_a_stable_readable_id(suite: pytest.Pytester) -> None:
    write(suite, CATALOG)
    first = suite.runpytest("--bench", str(BENCH), "--collect-only", "-q")
    second = suite.runpytest("--bench", str(BENCH), "--collect-only", "-q")
    ids = [line for line in first.outlines if "::" in line]
    assert len(ids) == 6
    assert "scenarios/smoke.yaml::smoke[bms-full-power_cut@block:2]" in ids
    assert ids == [line for line in second.outlines if "::" in line]


def test_k_markers_and_a_reproducible_sample_select_scenarios(suite: pytest.Pytester) -> None:
    write(suite, CATALOG)
    by_k = suite.runpytest("--bench", str(BENCH), "--collect-only", "-q", "-k", "bms and erase")
    assert [line for line in by_k.outlines if "::" in line] == ["scenarios/smoke.yaml::smoke[bms-full-power_cut@erase]"]
    by_marker = suite.runpytest("--bench", str(BENCH), "--collect-only", "-q", "-m", "smoke")
    assert len([line for line in by_marker.outlines if "::" in line]) == 6

    def sample(seed: int) -> list[str]:
        result = suite.runpytest("--bench", str(BENCH), "--collect-only", "-q", "--scenario-sample", "3",
                                 "--seed", str(seed))
        return [line for line in result.outlines if "::" in line]

    assert sample(5) == sample(5) and len(sample(5)) == 3
    assert any(sample(seed) != sample(5) for seed in (1, 2, 3))


def test_a_catalog_mistake_fails_collection_with_file_line_and_key(suite: pytest.Pytester) -> None:
    write(suite, CATALOG.replace("fault: power_cut", "fault: power_cutt"))
    result = suite.runpytest("--bench", str(BENCH), "--collect-only", "-q")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*smoke.yaml:6*power_cutt*"])


def test_scenarios_run_and_a_wrong_expectation_says_what_the_ecu_did(suite: pytest.Pytester) -> None:
    write(suite, CATALOG)
    write(suite, """\
campaign: wrong
defaults: {from: factory, to: app-2.0.0}
matrix: {ecu: bms, fault: power_cut, at: "block:2"}
expect: {outcome: unchanged}
""", "wrong.yaml")
    result = suite.runpytest("--bench", str(BENCH), "-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(["*wrong[[]bms-full-power_cut@block:2[]]: expected outcome unchanged (version 1.0.0), "
                                 "but the ECU runs version 2.0.0 after the last attempt (no error)",
                                 "ECU state: version 2.0.0, application, bank B, confirmed*"])
    assert "'" not in result.stdout.str().split("expected outcome", 1)[1].split("\n", 1)[0]  # no Python repr


VOID = "bench.errors.HostOverloaded"
"""A scenario's run the host's load voided (the simulator did not get the CPU in time): no verdict."""


def verdicts(suite: pytest.Pytester, *options: str) -> dict[str, str]:
    """Each scenario's verdict from the run's JUnit XML: ``passed``, ``failed`` (a finding about the
    ECU) or the bench fault's type (an ``<error>``). A run the host voided is run again, twice at most,
    as a nightly does (``--bench-fault-retries``); its last attempt is the one reported."""
    xml = suite.path / f"junit{len(options)}.xml"
    suite.runpytest("--bench", str(BENCH), "-p", "no:cacheprovider", "-q", "--bench-fault-retries", "2",
                    "--junitxml", str(xml), *options)
    result: dict[str, str] = {}
    for case in ElementTree.parse(xml).getroot().iter("testcase"):
        error, failure = case.find("error"), case.find("failure")
        result[case.get("name", "")] = ("failed" if failure is not None else
                                        "passed" if error is None else error.get("message", "").split(":", 1)[0])
    return result


def test_xdist_gives_the_same_verdicts_as_a_serial_run(suite: pytest.Pytester) -> None:
    """Two workers judge every scenario as one process does. A run the loaded host voided (a
    HostOverloaded bench fault, never an ECU verdict) even after its retries is left out of the
    comparison: this test asserts verdicts, not that the CI host has CPU to spare."""
    write(suite, CATALOG)
    serial, parallel = verdicts(suite), verdicts(suite, "-n", "2")
    assert len(serial) == 6 and parallel.keys() == serial.keys()
    assert set(serial.values()) | set(parallel.values()) <= {"passed", VOID}, (serial, parallel)
    assert "passed" in serial.values() and "passed" in parallel.values(), "every run voided: nothing compared"
