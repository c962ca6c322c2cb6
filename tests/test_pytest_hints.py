"""What a test's author is told about their own mistakes with the bench: an ECU left unpowered
after a cut (a usage error that says "the ECU is unpowered", not a P2 timeout counted against the
ECU), and the ``ecu`` fixture without a marker on a bench with several ECUs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.nightly.verdicts import USAGE
from rack_suite import virtual_rack

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"

FORGETS_POWER = """
import pytest
from bench.errors import FlashError

@pytest.mark.ecu("bcm")
def test_cut_and_forget(ecu, power, firmware):
    power.off()
    ecu.flasher.flash(firmware("app-2.0.0"))

@pytest.mark.ecu("bcm")
def test_cut_and_restore(ecu, power, firmware):
    power.off()
    power.on()
    ecu.diagnostics.wait_responsive(5.0)
    ecu.flasher.flash(firmware("app-0.9.0-downgrade"))
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "fixtures").symlink_to(REPO / "fixtures")
    return pytester


def test_a_silent_ecu_whose_supply_is_off_is_the_tests_mistake_not_the_ecus(suite: pytest.Pytester,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # the one-line summary whole
    suite.makepyfile(FORGETS_POWER)
    result = suite.runpytest("--bench", str(BENCH), "-p", "no:xdist", "-rf", "--alluredir", "allure")

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "FAILED *test_cut_and_forget - bench.errors.UsageError: the ECU is unpowered: bcm's supply 'kl30_body' is "
        "off, so it cannot answer (switch it on again after a cut, e.g. power.on()); the test failed on the "
        "silence: FlashError: *P2 timeout*"])
    result.stdout.fnmatch_lines(["FAILED *test_cut_and_restore - bench.errors.FlashError*refused*"])
    result.stdout.fnmatch_lines(["*usage errors: 1, ECU failures: 1*"])
    messages = {json.loads(path.read_text())["name"]: json.loads(path.read_text())["statusDetails"]["message"]
                for path in (suite.path / "allure").glob("*-result.json")}
    assert messages["test_cut_and_forget"].startswith("bench.errors.UsageError: the ECU is unpowered")
    categories = json.loads((REPO / "bench" / "report" / "categories.json").read_text())
    matched = [c["name"] for c in categories if re.match(c["messageRegex"], messages["test_cut_and_forget"])]
    assert matched[0] == "Usage error"


def test_a_run_whose_only_failure_is_a_forgotten_power_restore_exits_as_a_usage_error(
        suite: pytest.Pytester) -> None:
    suite.makepyfile(FORGETS_POWER)
    result = suite.runpytest("--bench", str(BENCH), "-p", "no:xdist", "-k", "forget")
    assert result.ret == USAGE


def test_the_ecu_fixture_without_a_marker_on_a_bench_of_several_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makepyfile("def test_which(ecu):\n    raise AssertionError('must not run')\n")
    result = suite.runpytest("--bench", str(BENCH), "-p", "no:xdist")

    assert result.ret == USAGE
    result.stdout.fnmatch_lines(["*UsageError: which ECU? bench 'virtual-bench' (*virtual.yaml) has several: bcm, bms, eps; "
                                 "name one with @pytest.mark.ecu(NAME)*"])
    result.stdout.no_fnmatch_line("*must not run*")


def test_the_ecu_fixture_without_a_marker_takes_the_only_ecu(suite: pytest.Pytester) -> None:
    rack = virtual_rack(suite.path, "rack", only="bms")
    suite.makepyfile("def test_only(ecu):\n    assert ecu.name == 'bms'\n")
    result = suite.runpytest("--bench", str(rack), "-p", "no:xdist")

    result.assert_outcomes(passed=1)
