"""The flasher with delta packages on the virtual bench: it sends the package when the ECU runs its
base and the full image otherwise, says which and why, and a power cut while the ECU patches or
while the package downloads ends with the new version without sending again what was sent."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.errors import ConfigError, FlashError
from bench.image import DeltaPackage, PatchLayout, build_delta
from bench.sim.patching import patch_steps
from sim_factory import FIRMWARE

DELTA_SEQUENCE_START = ["choose delta or full", "ReadDataByIdentifier version before"]


def delta(ecu, base: str = "app-1.0.0", target: str = "app-1.1.0") -> DeltaPackage:
    return build_delta(FIRMWARE / f"{base}.yaml", FIRMWARE / f"{target}.yaml", PatchLayout.for_profile(ecu.profile))


def programmed(sim, bank: int, length: int) -> bytes:
    with open(sim.flash_path, "rb") as flash:
        flash.seek(sim.layout.offset(bank))
        return flash.read(length)


@pytest.mark.parametrize("ecu", ["bcm", "bms"], indirect=True)
def test_delta_when_the_ecu_runs_the_base(ecu, flasher, sim, firmware) -> None:
    image, package = firmware("app-1.1.0"), delta(ecu)
    result = flasher.flash(image, delta=package)
    steps = result.timeline.steps
    assert [s.name for s in steps[:2]] == DELTA_SEQUENCE_START
    assert result.package == "delta" and "runs the package's base 1.0.0" in steps[0].detail
    assert result.bytes_sent == len(package.to_bytes()) < len(image.to_bytes()) // 10
    assert result.version_after == "1.1.0"
    running = sim.core().boot.running.bank
    assert programmed(sim, running, len(image.to_bytes())) == image.to_bytes()


@pytest.mark.ecu("bms")
def test_full_image_when_the_base_does_not_match(ecu, flasher, firmware) -> None:
    image = firmware("app-2.0.0")
    result = flasher.flash(image, delta=delta(ecu, base="app-1.1.0", target="app-2.0.0"))
    assert result.package == "full"
    assert result.package_reason.startswith("full image: the ECU runs 1.0.0")
    assert "base is 1.1.0" in result.package_reason
    assert result.bytes_sent == len(image.to_bytes()) and result.version_after == "2.0.0"


@pytest.mark.ecu("bcm")
def test_full_image_when_the_profile_takes_no_delta(ecu, flasher, firmware) -> None:
    package = delta(ecu)
    flasher.profile = flasher.profile.model_copy(update={"delta": None})
    result = flasher.flash(firmware("app-1.1.0"), delta=package)
    assert (result.package, result.package_reason) == ("full", "full image: the ECU profile takes no delta packages")
    assert result.version_after == "1.1.0"


@pytest.mark.ecu("bcm")
def test_package_for_another_image_is_a_user_error(ecu, flasher, firmware) -> None:
    with pytest.raises(ConfigError, match="makes 1.1.0 .*not the image being flashed 2.0.0"):
        flasher.flash(firmware("app-2.0.0"), delta=delta(ecu))
    assert flasher.results == []  # refused before anything was sent


@pytest.mark.parametrize("ecu", ["bcm", "bms"], indirect=True)
def test_power_cut_while_the_ecu_patches(ecu, flasher, sim, power, diagnostics, firmware) -> None:
    package = delta(ecu)
    steps = patch_steps(package, ecu.config.virtual.sector_size)
    sim.probes.once("patch_step", steps // 2, power.off)  # after the reset, in the middle of the patch
    flasher.boot_timeout = 0.3  # the ECU stays off: no need to wait the default 5 s for it
    with pytest.raises(FlashError, match="wait for ECU after reset"):
        flasher.flash(firmware("app-1.1.0"), delta=package)
    resumed = []
    sim.probes.on("patch_step", resumed.append)
    power.on()  # the bootloader finishes the patch before anything else: no tester needed
    assert resumed == list(range(steps // 2, steps))
    assert diagnostics.read_version() == "1.1.0"


@pytest.mark.ecu("bcm")
def test_power_cut_while_the_package_downloads(ecu, flasher, sim, power, diagnostics, firmware) -> None:
    image, package = firmware("app-2.0.0"), delta(ecu, target="app-2.0.0")  # unrelated code: 17 sectors
    staged_page = ecu.sim.layout.staging_offset // ecu.config.virtual.page_size + 100
    sim.probes.once("program_page", staged_page, power.off)
    with pytest.raises(FlashError) as failure:
        flasher.flash(image, delta=package)
    cut = failure.value.result
    power.on()
    assert diagnostics.read_version() == "1.0.0"  # the single-bank application was never touched
    result = flasher.flash(image, delta=package, resume=True)
    assert result.package == "delta" and result.resumed_from > 0
    assert cut.bytes_sent + result.block_size - result.resumed_from <= result.block_size
    assert result.bytes_sent == len(package.to_bytes()) - result.resumed_from
    assert result.version_after == "2.0.0"


def test_flash_by_hand_with_delta_from(capsys: pytest.CaptureFixture[str]) -> None:
    bench = str(FIRMWARE.parent / "benches" / "virtual.yaml")
    args = ["flash", "--bench", bench, "--ecu", "bcm", "--image", str(FIRMWARE / "app-1.1.0.yaml")]
    assert main([*args, "--delta-from", str(FIRMWARE / "app-1.0.0.yaml")]) == 0
    out = capsys.readouterr().out
    assert "delta: the ECU runs the package's base 1.0.0" in out and "bcm: version 1.1.0" in out
    assert main([*args, "--delta-from", str(FIRMWARE / "app-1.0.9.yaml")]) == 2
    assert "app-1.0.9.yaml: cannot read firmware recipe" in capsys.readouterr().err
