"""Mutation testing of the OTA campaign: every mutant bootloader is caught, the reference is not.

Each case runs the steps a catalog scenario runs (arm a fault or pick a refused image, flash,
recover, apply the oracles) twice: against the virtual bench with the mutant on one ECU, where
the named oracle (or the campaign assertion) must fail, and against the reference ECU, where
the same steps must pass. A case that passed both would mean the campaign misses that defect.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.errors import BenchFault, ConfigError, FlashError
from bench.faults import FaultInjector, Trigger, probe
from bench.flash import FlashResult
from bench.image import FirmwareImage
from bench.rig import Bench, EcuHandle
from bench.scenarios.oracles import (EcuBricked, NvmInconsistent, OutcomeViolation, ResumeFailed, RollbackFailed,
                                     nvm_consistent, recovers, resent_at_most_one_block, runs_previous_bank,
                                     version_is_old_or_new)
from bench.sim.mutants import MUTANTS

REPO = Path(__file__).resolve().parents[1]
VIRTUAL_BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"
KEY = REPO / "fixtures" / "keys" / "dev_ed25519.pub.pem"
RECOVERY = 3.0
"""Seconds an ECU may take to answer after power returns (the catalog allows 5)."""

Firmware = Callable[[str], FirmwareImage]
Scenario = Callable[[EcuHandle, FaultInjector, Firmware], None]


def attempt(ecu: EcuHandle, image: FirmwareImage, *, resume: bool = False) -> FlashResult:
    """Flash; a failed attempt is judged by the oracles that follow, not here."""
    try:
        return ecu.flasher.flash(image, resume=resume)
    except FlashError as failure:
        return failure.result  # type: ignore[return-value]


# -- scenarios: the steps of catalog tests ------------------------------------------------------

def refused_image(make: Callable[[Firmware], FirmwareImage]) -> Scenario:
    """A/B: an image the bootloader must refuse; after a reset the previous bank still runs."""

    def run(ecu: EcuHandle, faults: FaultInjector, firmware: Firmware) -> None:
        attempt(ecu, make(firmware))
        ecu.uds.ecu_reset(1)
        recovers(ecu, within=RECOVERY)
        runs_previous_bank(ecu, bank=0, version="1.0.0")
        nvm_consistent(ecu.sim)

    return run


def resealed_tamper(firmware: Firmware) -> FirmwareImage:
    """A payload byte flipped and the header's digest fixed up: whole, but no longer signed."""
    image = firmware("app-2.0.0")
    payload = bytearray(image.payload)
    payload[len(payload) // 2] ^= 0x01
    header = dataclasses.replace(image.header, payload_sha256=hashlib.sha256(payload).digest())
    return FirmwareImage(header, bytes(payload))


def power_cut_during_update(trigger: Trigger) -> Scenario:
    """test_power_cut_phases: cut, power back, never bricked, old or new version, NVM consistent."""

    def run(ecu: EcuHandle, faults: FaultInjector, firmware: Firmware) -> None:
        cut = faults.when(trigger).power_cut(ecu)
        attempt(ecu, firmware("app-2.0.0"))
        assert cut.wait(timeout=5.0), f"the power cut at {trigger} never fired"
        ecu.power.on()
        recovers(ecu, within=RECOVERY)
        version_is_old_or_new(ecu, old="1.0.0", new="2.0.0")
        nvm_consistent(ecu.sim)

    return run


def resume_after_power_cut(ecu: EcuHandle, faults: FaultInjector, firmware: Firmware) -> None:
    """test_resume: cut mid-page, then the resumed update completes re-sending at most one block."""
    image = firmware("app-2.0.0")
    cut = faults.when(probe("program_page_half", 130)).power_cut(ecu)
    interrupted = attempt(ecu, image)
    assert cut.wait(timeout=5.0)
    ecu.power.on()
    recovers(ecu, within=RECOVERY)
    resumed = ecu.flasher.flash(image, resume=True)
    assert resumed.version_after == "2.0.0"
    resent_at_most_one_block(interrupted, resumed)


def trial_boot_fails(ecu: EcuHandle, faults: FaultInjector, firmware: Firmware) -> None:
    """test_image_failing_its_trial_boot_is_rolled_back: the A/B ECU must come back on bank A."""
    attempt(ecu, firmware("app-2.0.0-selftest-fail"))
    recovers(ecu, within=RECOVERY)
    runs_previous_bank(ecu, bank=0, version="1.0.0")


@dataclass(frozen=True)
class Case:
    mutant: str
    ecu: str
    scenario: Scenario
    caught_by: type[Exception]
    match: str
    """What the failure of the mutant says (regex): which oracle or assertion caught it."""


CASES = {
    "switch_before_verify-foreign-key": Case(
        "switch_before_verify", "bms", refused_image(lambda fw: fw("app-2.0.0-foreign")),
        RollbackFailed, r"should run bank A version '1\.0\.0'; it runs .* version '2\.0\.0'"),
    "switch_before_verify-resealed-tamper": Case(
        "switch_before_verify", "bms", refused_image(resealed_tamper),
        RollbackFailed, r"should run bank A version '1\.0\.0'; it runs .* version '2\.0\.0'"),
    "no_invalidate_on_erase-mid-erase": Case(
        "no_invalidate_on_erase", "bcm", power_cut_during_update(probe("erase_sector_half", 5)),
        EcuBricked, r"bricked"),
    "no_invalidate_on_erase-mid-page-program": Case(
        "no_invalidate_on_erase", "bcm", power_cut_during_update(probe("program_page_half", 77)),
        NvmInconsistent, r"NVM is inconsistent: bank A is marked valid but does not verify"),
    "forget_journal": Case(
        "forget_journal", "bcm", resume_after_power_cut,
        ResumeFailed, r"the download started over"),
    "no_trial_rollback": Case(
        "no_trial_rollback", "bms", trial_boot_fails,
        EcuBricked, r"bricked"),
    "ignore_anti_rollback": Case(
        "ignore_anti_rollback", "bms", refused_image(lambda fw: fw("app-0.9.0-downgrade")),
        RollbackFailed, r"should run bank A version '1\.0\.0'; it runs .* version '0\.9\.0'"),
    "torn_page_ok": Case(
        "torn_page_ok", "bcm", resume_after_power_cut,
        FlashError, r"check memory reported status 0x02"),  # payload digest mismatch
}


@pytest.fixture(scope="module")
def virtual_bench() -> BenchConfig:
    return load_bench(VIRTUAL_BENCH)


def with_mutant(config: BenchConfig, ecu: str, mutant: str | None) -> BenchConfig:
    """The bench with only ``ecu``, running ``mutant`` (None: the reference bootloader)."""
    original = config.ecus[ecu]
    virtual = original.virtual.model_copy(update={"mutant": mutant})
    return config.model_copy(update={"ecus": {ecu: original.model_copy(update={"virtual": virtual})}})


def run_case(config: BenchConfig, case: Case, firmware: Firmware, workdir: Path,
             request: pytest.FixtureRequest) -> Exception | None:
    """Run the case's scenario; the finding it raised (an oracle or the flasher), or None."""
    with Bench(config, workdir=workdir) as rig:
        injector = FaultInjector(rig)
        try:
            case.scenario(rig.ecu(case.ecu), injector, firmware)
            finding: Exception | None = None
        except (OutcomeViolation, FlashError) as exc:
            finding = exc
        finally:
            injector.close()
            for name, text in rig.evidence().items():
                request.node.add_report_section("call", name, text)
        faults = rig.faults()
    if faults:  # a crashed simulator must never pass for a caught mutant
        raise BenchFault("; ".join(faults))
    return finding


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_campaign_catches_the_mutant(case: Case, virtual_bench, firmware, tmp_path: Path, request) -> None:
    finding = run_case(with_mutant(virtual_bench, case.ecu, case.mutant), case, firmware, tmp_path, request)

    assert finding is not None, f"mutant {case.mutant!r} ({MUTANTS[case.mutant].defect}) went unnoticed"
    assert isinstance(finding, case.caught_by) and re.search(case.match, str(finding)), \
        f"mutant {case.mutant!r} was caught, but not as expected ({case.match!r}): {finding!r}"


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_reference_ecu_passes_the_same_steps(case: Case, virtual_bench, firmware, tmp_path: Path, request) -> None:
    finding = run_case(with_mutant(virtual_bench, case.ecu, None), case, firmware, tmp_path, request)

    assert finding is None, f"the reference {case.ecu} fails the steps that catch {case.mutant!r}: {finding}"


def test_every_mutant_has_a_case_that_catches_it() -> None:
    assert {case.mutant for case in CASES.values()} == set(MUTANTS)
    for mutant in MUTANTS.values():
        assert mutant.defect and "\n" not in mutant.defect


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
    with pytest.raises(ConfigError, match="unknown mutant 'nope'; known: forget_journal"), \
            Bench(with_mutant(virtual_bench, "bcm", "nope"), workdir=tmp_path):
        pass


def test_mutant_of_another_kind_of_bootloader_is_refused(virtual_bench, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'no_trial_rollback' is a defect of ab bootloaders, not of a single_bank"), \
            Bench(with_mutant(virtual_bench, "bcm", "no_trial_rollback"), workdir=tmp_path):
        pass
