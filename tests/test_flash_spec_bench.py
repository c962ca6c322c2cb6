"""The shipped ``bench`` flash specification is the bench's contract: the flasher's timeline of an
image names the spec's steps, and the spec interpreter, given the same image as a software file,
flashes the bench's virtual ECU with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import BenchConfig
from bench.config.flash_spec import EcuResetStep, LogicalBlocksStep, shipped_spec
from bench.errors import FlashError, UsageError
from bench.image.software import LogicalBlock, SoftwareFile


def spec_step_names(name: str) -> list[str]:
    """The timeline names a one-block flash by the shipped spec ``name`` shows, in order."""
    names: list[str] = []
    for step in shipped_spec(name).steps:
        if isinstance(step, LogicalBlocksStep):
            parts = [step.erase and step.erase.name, step.download.name, step.download.transfer_name,
                     step.transfer_exit.name, step.check and step.check.name]
            names += [part.format(index=0, region="") for part in parts if part]
        else:
            names += [step.name] + ([step.wait_name] if isinstance(step, EcuResetStep) else [])
    return names


def as_software(image, address: int) -> SoftwareFile:
    return SoftwareFile(Path("app.bin"), "binary", (LogicalBlock(address, image.to_bytes()),))


class TestBenchSpec:
    @pytest.fixture
    def bench_config(self, bench_config: BenchConfig) -> BenchConfig:
        return bench_config.with_network_margin(1.0)  # no retry from a loaded host's late answer

    @pytest.mark.ecu("bcm")
    def test_the_flasher_names_the_bench_specs_steps(self, ecu, flasher, firmware) -> None:
        result = flasher.flash(firmware("app-2.0.0"))
        assert [step.name for step in result.timeline.steps] == spec_step_names("bench")

    @pytest.mark.parametrize("ecu", ["bcm", "bms"], indirect=True)
    def test_the_interpreter_flashes_a_bench_ecu_by_the_bench_spec(self, ecu, flasher, firmware) -> None:
        image = firmware("app-2.0.0")
        done: list[tuple[int, int]] = []
        result = flasher.flash_software([as_software(image, ecu.profile.memory.address)],
                                        expect_version="2.0.0", progress=lambda d, t: done.append((d, t)))
        assert [step.name for step in result.timeline.steps] == spec_step_names("bench")
        assert all(step.outcome == "ok" for step in result.timeline.steps)
        assert result.version_before == "1.0.0" and result.version_after == "2.0.0"
        assert result.blocks_done == 1 and result.bytes_sent == len(image.to_bytes())
        assert done[-1] == (len(image.to_bytes()),) * 2

    @pytest.mark.ecu("bcm")
    def test_a_journal_spec_resumes_images_only(self, ecu, flasher, firmware) -> None:
        with pytest.raises(UsageError, match="download journal"):
            flasher.flash_software([as_software(firmware("app-2.0.0"), ecu.profile.memory.address)], resume=True)


@pytest.mark.ecu("bcm")
@pytest.mark.parametrize("secret, unlocked", [(0x5A3C7E11, True), (0x01020304, False)])
def test_a_security_level_uses_the_key_function_its_step_names(ecu, flasher, firmware, secret, unlocked) -> None:
    """A step's own key function and parameters, not the profile's, compute that level's key."""
    bench = shipped_spec("bench")
    steps = [step.model_copy(update={"key_function": "bench.keys:xor_key", "key_params": {"secret": secret}})
             if step.do == "security_access" else step for step in bench.steps]
    flasher.profile = ecu.profile.model_copy(update={
        "flash_spec": bench.model_copy(update={"steps": steps, "resume": "from_start"}),
        "security": ecu.profile.security.model_copy(update={"key_params": {"secret": 0}})})
    software = [as_software(firmware("app-2.0.0"), ecu.profile.memory.address)]
    if unlocked:
        assert flasher.flash_software(software, expect_version="2.0.0").version_after == "2.0.0"
    else:
        with pytest.raises(FlashError, match="SecurityAccess level 0x11 failed.*InvalidKey"):
            flasher.flash_software(software)
