"""Mutation testing of the OTA suites: the Python suites of testcases/ catch every mutant bootloader.

Each mutant (``bench.sim.mutants``) is put on one ECU of the virtual bench by a bench file
(``virtual: {mutant: NAME}``), and the suites themselves run against it with pytest
(``--bench FILE``), as a validation engineer runs them: the tests named below must fail, as ECU
failures (exit status 1, never a bench fault or a usage error), and the same tests must pass on
the reference bench. A test that passed both would mean the suites miss that defect.
tests/test_catalog_mutants.py does the same for the YAML catalogs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.errors import ConfigError
from bench.rig import Bench
from bench.sim.mutants import MUTANTS
from rack_suite import REPO, mutant_rack

VIRTUAL_BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"
KEY = REPO / "fixtures" / "keys" / "dev_ed25519.pub.pem"
PHASES = "testcases/test_power_cut_phases.py::test_power_cut_never_bricks_and_the_update_completes_afterwards"
REFUSED = "testcases/test_rollback_and_refusal.py::test_refused_image_never_runs"
RESUME = "testcases/test_resume.py::test_resume_resends_at_most_one_block"
HIS = "testcases/test_his_bootloader.py"
HIS_CUT = f"{HIS}::test_power_cut_in_a_logical_block_never_bricks_and_only_that_block_restarts"

CAUGHT_BY = {  # mutant -> (the ECU it runs on, the tests of testcases/ that must catch it)
    "switch_before_verify": ("bms", [f"{REFUSED}[foreign-key-bms]", f"{REFUSED}[downgrade-bms]"]),
    "no_invalidate_on_erase": ("bcm", [f"{PHASES}[mid-erase-bcm]", f"{PHASES}[mid-page-program-bcm]",
                                       "testcases/test_power_loss.py::"
                                       "test_single_bank_stays_in_bootloader_and_accepts_a_new_flash"]),
    "forget_journal": ("bcm", [f"{RESUME}[130-bcm]"]),
    "no_trial_rollback": ("bms", ["testcases/test_rollback_and_refusal.py::"
                                  "test_image_failing_its_trial_boot_is_rolled_back"]),
    "ignore_anti_rollback": ("bms", [f"{REFUSED}[downgrade-bms]"]),
    "early_anti_rollback": ("bms", ["testcases/test_rollback_and_refusal.py::"
                                    "test_previous_software_goes_back_until_the_update_is_committed[bms]"]),
    "torn_page_ok": ("bcm", [f"{RESUME}[130-bcm]", f"{PHASES}[mid-page-program-bcm]"]),
    "his_crc_not_checked": ("eps", [f"{HIS}::test_a_block_with_a_wrong_crc_stays_invalid_and_the_ecu_in_its_bootloader"]),
    "his_erases_wrong_block": ("eps", [f"{HIS}::test_every_block_by_hand_with_compressed_downloads",
                                       f"{HIS_CUT}[erase-calibration]"]),
    "his_download_before_erase": ("eps", [f"{HIS}::test_erase_needs_a_fingerprint_and_a_download_needs_its_erase"]),
    "his_keeps_valid_on_erase": ("eps", [f"{HIS_CUT}[transfer-application]", f"{HIS_CUT}[transfer-calibration]"]),
    "late_programming_session": ("bcm", [f"{RESUME}[130-bcm]", f"{PHASES}[mid-page-program-bcm]"]),
}


def run_suites(bench_file: Path, tests: list[str]) -> subprocess.CompletedProcess[str]:
    """pytest on ``tests`` of testcases/ against ``bench_file``, in the project as a user runs it."""
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:xdist", "-q", "-rfE",
                           "--bench", str(bench_file), *tests], cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.mark.parametrize("mutant", CAUGHT_BY)
def test_the_ota_suites_catch_the_mutant(mutant: str, tmp_path: Path) -> None:
    ecu, tests = CAUGHT_BY[mutant]
    done = run_suites(mutant_rack(tmp_path, ecu, mutant), tests)

    failed = set(re.findall(r"^FAILED (\S+)", done.stdout, re.MULTILINE))
    missed = [test for test in tests if test not in failed]
    assert not missed, f"{missed} miss mutant {mutant!r} ({MUTANTS[mutant].defect}):\n{done.stdout[-3000:]}"
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-3000:]  # ECU failures, not 4 or 6
    assert "bench faults:" not in done.stdout and "usage errors:" not in done.stdout


def test_the_reference_ecus_pass_every_test_that_catches_a_mutant(tmp_path: Path) -> None:
    tests = list(dict.fromkeys(test for _, tests in CAUGHT_BY.values() for test in tests))
    done = run_suites(mutant_rack(tmp_path, "bcm", None), tests)

    assert done.returncode == pytest.ExitCode.OK, done.stdout[-3000:]
    assert f"{len(tests)} passed" in done.stdout


def test_every_mutant_is_caught_by_some_test() -> None:
    assert set(CAUGHT_BY) == set(MUTANTS)
    for mutant in MUTANTS.values():
        assert mutant.defect and "\n" not in mutant.defect


@pytest.fixture(scope="module")
def virtual_bench() -> BenchConfig:
    return load_bench(VIRTUAL_BENCH)


def with_mutant(config: BenchConfig, ecu: str, mutant: str | None) -> BenchConfig:
    """The bench with only ``ecu``, running ``mutant`` (None: the reference bootloader)."""
    original = config.ecus[ecu]
    virtual = original.virtual.model_copy(update={"mutant": mutant})
    return config.model_copy(update={"ecus": {ecu: original.model_copy(update={"virtual": virtual})}})


# -- configuration --------------------------------------------------------------------------------

BENCH_WITH_MUTANT = """\
name: mutant-bench
buses:
  body: {{interface: virtual, channel: m-body}}
power:
  kl30: {{driver: virtual}}
profiles:
  sb: {{bootloader: single_bank}}
ecus:
  bcm:
    bus: body
    request_id: 0x7E0
    response_id: 0x7E8
    power: kl30
    profile: sb
    virtual:
      trusted_key: {key}
      mutant: {mutant}
"""


def test_a_known_mutant_loads_from_a_bench_file(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(BENCH_WITH_MUTANT.format(key=KEY, mutant="forget_journal"), encoding="utf-8")

    assert load_bench(path).ecus["bcm"].virtual.mutant == "forget_journal"


def test_unknown_mutant_is_a_config_error_listing_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(BENCH_WITH_MUTANT.format(key=KEY, mutant="forget_jornal"), encoding="utf-8")

    with pytest.raises(ConfigError) as error:
        load_bench(path)

    message = str(error.value)
    assert "ecus.bcm.virtual.mutant" in message and "unknown mutant 'forget_jornal'" in message
    assert all(name in message for name in MUTANTS)


def test_unknown_mutant_set_without_validation_is_refused_when_the_bench_starts(virtual_bench, tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown mutant 'nope'; known: early_anti_rollback, forget_journal"), \
            Bench(with_mutant(virtual_bench, "bcm", "nope"), workdir=tmp_path):
        pass


def test_mutant_of_another_kind_of_bootloader_is_refused(virtual_bench, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'no_trial_rollback' is a defect of ab bootloaders, not of a single_bank"), \
            Bench(with_mutant(virtual_bench, "bcm", "no_trial_rollback"), workdir=tmp_path):
        pass
