"""A user's mistake found while the run goes (a bad trigger argument, a catalog asking what the
ECU cannot do) is a usage error: exit status 4, a JUnit error and the "Usage error" category —
never an ECU failure (1), which still wins when there is one."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.errors import ConfigError
from bench.image.builders import firmware_builder
from bench.nightly.verdicts import USAGE
from bench.scenarios.catalog import load_catalog
from bench.scenarios.runner import play
from rack_suite import BENCH, REPO, bcm_project, run_pytest

BAD_TRIGGER = """\
import pytest
from bench.faults import uds

@pytest.mark.ecu("bcm")
def test_reads_the_version(ecu):
    assert ecu.diagnostics.read_version() == "1.0.0"

@pytest.mark.ecu("bcm")
def test_cut_at_block_zero(ecu, faults):
    faults.when(uds.transfer_data(block=0)).power_cut(ecu)
"""

BLOCK_50 = """\
campaign: beyond
defaults: {to: app-2.0.0}
matrix: {ecu: bcm, fault: power_cut, at: ["block:3", "block:50"]}
expect: {versions: [old, new, bootloader]}
"""


def test_a_bad_trigger_argument_is_a_usage_error_exit_4(tmp_path: Path) -> None:
    bcm_project(tmp_path, {"test_cut.py": BAD_TRIGGER})
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "rack.yaml", "--junitxml", "junit.xml")

    assert done.returncode == USAGE == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "block=0: block numbers start at 1" in done.stdout
    assert "usage errors: 1, ECU failures: 0; exit status 4" in done.stdout
    junit = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert junit.get("errors") == "1" and junit.get("failures") == "0"


@pytest.mark.parametrize("workers", [["-p", "no:xdist"], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_catalog_asking_for_block_50_of_17_stops_collection_as_a_usage_error_exit_4(tmp_path: Path,
                                                                                       workers: list[str]) -> None:
    bcm_project(tmp_path, {"scenarios/beyond.yaml": BLOCK_50})
    done = run_pytest(tmp_path, *workers, "--bench", "rack.yaml", "scenarios")

    assert done.returncode == USAGE, done.stdout + done.stderr
    assert "passed" not in done.stdout and "failed" not in done.stdout  # no scenario ran, not even block:3
    assert (f"{(tmp_path / 'scenarios' / 'beyond.yaml').resolve()}:3: matrix.at[1]: 'block:50' is never reached: "
            "app-2.0.0 is a 65,792-byte download to bcm: 17 TransferData blocks of 4,096 B") in done.stdout
    assert "Traceback" not in done.stdout and "bench/scenarios/catalog.py" not in done.stdout


def test_an_ecu_failure_keeps_exit_status_1_beside_usage_errors(tmp_path: Path) -> None:
    ecu_failure = "\ndef test_ecu_finding():\n    assert False, 'wrong version'\n"
    bcm_project(tmp_path, {"test_cut.py": BAD_TRIGGER + ecu_failure})
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "rack.yaml")

    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "usage errors: 1, ECU failures: 1; exit status 1: ECU failures (usage errors too)" in done.stdout


def test_a_point_that_only_the_run_finds_unreached_is_still_a_usage_error(tmp_path: Path) -> None:
    """Without the sizes of the downloads (a caller of load_catalog that gives none, or a real ECU
    announcing a larger block than its profile), the runner finds the point unreached itself."""
    catalog = tmp_path / "beyond.yaml"
    catalog.write_text(BLOCK_50.replace('at: ["block:3", "block:50"]}', 'at: [\n  "block:3",\n  "block:50"]}'))
    [_, beyond] = load_catalog(catalog, ecus={"bcm": "single_bank"})
    with pytest.raises(ConfigError) as error:
        play(load_bench(BENCH), beyond, firmware_builder(REPO), workdir=tmp_path)
    assert f"{catalog.resolve()}:5: at: scenario bcm-full-power_cut@block:50: the power_cut at block:50 never " \
           "fired (the trigger point is not reached by this update)" == str(error.value)  # the line of the point


def test_a_catalog_mistake_the_run_finds_reads_as_its_message_without_traceback(tmp_path: Path) -> None:
    bcm_project(tmp_path, {"scenarios/beyond.yaml": BLOCK_50.replace('"block:3", "block:50"', "erase")})
    rack = tmp_path / "rack.yaml"
    rack.write_text(rack.read_text().replace("    power: kl30_body\n", ""))  # the BCM has no supply here
    done = run_pytest(tmp_path, "-p", "no:xdist", "--bench", "rack.yaml", "scenarios")

    assert done.returncode == USAGE, done.stdout + done.stderr
    assert "beyond[bcm-full-power_cut@erase]: ECU 'bcm' has no power supply on this bench" in done.stdout
    assert "Traceback" not in done.stdout and "injector.py" not in done.stdout
