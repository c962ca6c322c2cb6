"""A software-in-the-loop ECU the bench did not write (``fixtures/sil/acme_ecu.py``: ACME's bootloader as
a program, importing nothing of the bench), powered by the ``process`` driver and reached over
python-can's slcan interface: flashed from an Intel HEX file by its flash specification, with the
``flasher`` fixture and ``ota-bench flash``, and cut (SIGKILL) at several steps of the flash."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.errors import FlashError
from bench.faults import FaultInjector, uds
from bench.image.software import load_software
from bench.rig import Bench, EcuHandle

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
WALKTHROUGH = ROOT / "fixtures" / "walkthrough"
BENCH = ROOT / "fixtures" / "sil" / "acme-sil-bench.yaml"
APP_2 = WALKTHROUGH / "acme-app-2.0.0.hex"
APP_BLOCK = 0x3000  # bytes of the application block in the HEX file (then 0x400 of calibration)


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Bench]:
    monkeypatch.syspath_prepend(str(WALKTHROUGH))
    with Bench(load_bench(BENCH), workdir=tmp_path) as bench:
        yield bench


@pytest.fixture
def ecu(rig: Bench) -> EcuHandle:
    return rig.ecu("acme")


def test_the_program_is_flashed_by_the_acme_spec_and_keeps_the_software_in_its_nvm(rig: Bench, ecu: EcuHandle) -> None:
    result = ecu.flasher.flash_software([load_software(APP_2)], expect_version="2.0.0")
    assert (result.version_before, result.version_after, result.blocks_done) == ("1.0.0", "2.0.0", 2)
    nvm = rig.supplies["acme_program"].nvm  # type: ignore[attr-defined]
    assert (nvm / "application.bin").read_bytes().startswith(b"2.0.0\0")
    ecu.power.cycle(off_for=0)  # type: ignore[union-attr]
    assert ecu.flasher.flash_software([load_software(APP_2)]).version_before == "2.0.0"


def cut_at_half_of_the_application(ecu: EcuHandle, injector: FaultInjector) -> dict:
    return {"progress": lambda done, total: done >= APP_BLOCK // 2 and ecu.power.off()}  # type: ignore[union-attr]


def cut_at_the_first_erase(ecu: EcuHandle, injector: FaultInjector) -> dict:
    injector.when(uds.request("RoutineControl", routine=0xFF20)).power_cut(ecu)
    return {}


def cut_at_the_check_of_the_calibration(ecu: EcuHandle, injector: FaultInjector) -> dict:
    injector.when(uds.request("RoutineControl", routine=0x0230, nth=2)).power_cut(ecu)
    return {}


@pytest.mark.parametrize("cut, versions_before", [
    (cut_at_the_first_erase, {"1.0.0", None}),  # the kill races the erase: before it or after
    (cut_at_half_of_the_application, {None}),  # the application half written: no valid software
    (cut_at_the_check_of_the_calibration, {None}),  # both written, the calibration never checked
])
def test_a_power_cut_kills_the_program_and_the_next_flash_brings_the_new_software(
        rig: Bench, ecu: EcuHandle, cut, versions_before: set[str | None]) -> None:
    software = [load_software(APP_2)]
    injector = FaultInjector(rig)
    try:
        with pytest.raises(FlashError):
            ecu.flasher.flash_software(software, **cut(ecu, injector))
    finally:
        injector.close()  # power back on where a fault cut it
    ecu.power.on()  # type: ignore[union-attr]
    resumed = ecu.flasher.flash_software(software, resume=True, expect_version="2.0.0")
    assert resumed.version_before in versions_before and resumed.version_after == "2.0.0"
    log = (rig.workdir / "acme_program.log").read_text()
    assert log.count("--- power off (killed)") == 1 and log.count("ACME SIL ECU ready") == 2


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(WALKTHROUGH), "CI": "1"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_ota_bench_flash_flashes_the_program(tmp_path: Path) -> None:
    done = run("-m", "bench", "flash", "--bench", str(BENCH), "--ecu", "acme", "--file", str(APP_2),
               "--expect-version", "2.0.0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "erase application" in done.stdout and "acme: version 2.0.0" in done.stdout


def test_the_walkthrough_test_flashes_the_program_with_the_flasher_fixture() -> None:
    done = run("-m", "pytest", str(WALKTHROUGH / "flash_acme.py"), "--bench", str(BENCH),
               "-p", "no:randomly", "-p", "no:cacheprovider", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_the_sil_catalogs_pass_against_the_program() -> None:
    """A sample of fixtures/sil/scenarios (all 26: two minutes on two workers), run as a user runs it."""
    catalogs = ROOT / "fixtures" / "sil" / "scenarios"
    ids = [*(f"{catalogs}/sil-power-loss.yaml::sil-power-loss[acme-full-power_cut@{at}]"
             for at in ("erase@0", "block:3@0", "check_block@1", "reset")),
           f"{catalogs}/sil-network.yaml::sil-network[acme-full-corruption@block:3@0-s0]"]
    done = run("-m", "pytest", *ids, "--bench", str(BENCH), "-q", "-p", "no:randomly", "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "5 passed" in done.stdout
