"""The shipped ``his`` flash specification against the virtual bench's HIS-style ECU: two logical
blocks from an Intel HEX file, zlib downloads, CRC-32 per block, a power cut in each block and the
resume that starts the interrupted block again; and the refusals a spec makes."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from types import SimpleNamespace
from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.config.flash_spec import HexBytes, shipped_spec
from bench.errors import ConfigError, FlashError, UsageError
from bench.faults import FaultInjector, uds
from bench.image.software import load_software
from bench.rig import Bench, EcuHandle
from bench.scenarios.runner import trigger

WALKTHROUGH = Path(__file__).resolve().parents[1] / "fixtures" / "walkthrough"
APP_2 = WALKTHROUGH / "acme-app-2.0.0.hex"
APP_BLOCK = 0x3000  # bytes of the application block in the HEX files (then 0x400 of calibration)


def his_bench(monkeypatch: pytest.MonkeyPatch, **spec_changes: object) -> BenchConfig:
    """The walkthrough's bench with its ECU set up as the shipped ``his`` contract says."""
    monkeypatch.syspath_prepend(str(WALKTHROUGH))
    config = load_bench(WALKTHROUGH / "acme-bench.yaml").with_network_margin(1.0)
    profile = config.profiles["acme"]
    his = profile.model_copy(update={
        "flash_spec": shipped_spec("his").model_copy(update=spec_changes),
        "routines": type(profile.routines)(), "security": profile.security.model_copy(update={"level": 0x11}),
        "memory": profile.memory.model_copy(update={"address_bytes": 4, "length_bytes": 4})})
    return config.model_copy(update={"profiles": {"acme": his}})


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Bench]:
    with Bench(his_bench(monkeypatch), workdir=tmp_path) as bench:
        yield bench
        assert not bench.faults()


@pytest.fixture
def ecu(rig: Bench) -> EcuHandle:
    return rig.ecu("acme")


def names(result) -> list[str]:
    return [step.name for step in result.timeline.steps]


def test_his_flashes_two_blocks_compressed_with_their_crc(ecu: EcuHandle) -> None:
    result = ecu.flasher.flash_software([load_software(APP_2)], expect_version="2.0.0")
    steps = names(result)
    assert steps.index("WriteDataByIdentifier fingerprint") < steps.index("RoutineControl erase memory block 0")
    assert steps.index("RoutineControl check memory block 0") < steps.index("RoutineControl erase memory block 1")
    assert result.timeline.steps[steps.index("RequestDownload block 0")].detail.startswith("0x20000+0x3000, DFI 0x10")
    software = load_software(APP_2)
    assert result.bytes_sent == sum(len(zlib.compress(block.data)) for block in software.blocks)
    assert result.blocks_done == 2 and result.version_after == "2.0.0"
    assert ecu.sim is not None and ecu.sim.core().boot.installed_version() == "2.0.0"


@pytest.mark.parametrize("cut_in_block", [0, 1])
def test_a_power_cut_in_a_block_resumes_at_that_block(ecu: EcuHandle, cut_in_block: int) -> None:
    software = [load_software(APP_2)]
    assert ecu.power is not None
    at = APP_BLOCK // 2 if cut_in_block == 0 else APP_BLOCK + 1
    with pytest.raises(FlashError) as cut:
        ecu.flasher.flash_software(software, progress=lambda done, total: done >= at and ecu.power.off())
    assert cut.value.result.blocks_done == cut_in_block
    ecu.power.on()
    resumed = ecu.flasher.flash_software(software, resume=True, expect_version="2.0.0")
    assert resumed.resumed_block == cut_in_block
    erased = [name for name in names(resumed) if name.startswith("RoutineControl erase")]
    assert erased == [f"RoutineControl erase memory block {i}" for i in range(cut_in_block, 2)]
    assert resumed.version_after == "2.0.0"


def test_a_wrong_crc_fails_with_the_meaning_the_spec_gives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    his = shipped_spec("his")
    check = his.blocks.check.model_copy(update={"option_record": [HexBytes(hex="00 00 00 00")]})
    blocks = his.blocks.model_copy(update={"check": check})
    steps = [blocks if step.do == "logical_blocks" else step for step in his.steps]
    with Bench(his_bench(monkeypatch, steps=steps), workdir=tmp_path) as rig, \
            pytest.raises(FlashError, match="status 0x01: CRC incorrect: the block stays invalid"):
        rig.ecu("acme").flasher.flash_software([load_software(APP_2)])


def test_a_file_outside_the_ecus_blocks_is_refused_before_anything_is_sent(ecu: EcuHandle, tmp_path: Path) -> None:
    stray = tmp_path / "stray.hex"
    stray.write_text(":0400000500000000F7\n:020000040004F6\n:0400000001020304F2\n:00000001FF\n")
    with pytest.raises(ConfigError, match="outside every logical block"):
        ecu.flasher.flash_software([load_software(stray)])
    assert ecu.flasher.results == []


def test_an_incompatible_ecu_is_refused_with_the_specs_message(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    his = shipped_spec("his")
    check = {"do": "read_did", "name": "check hardware number", "did": 0xF191,
             "expect": {"one_of": ["EPS-HW-02"], "refusal": "hardware {value!r} is not {expected}"}}
    spec = his.model_validate({**his.model_dump(exclude_defaults=False), "steps": [check, *his.model_dump()["steps"]]})
    with Bench(his_bench(monkeypatch, steps=spec.steps), workdir=tmp_path) as rig, \
            pytest.raises(UsageError, match="hardware 'ACME-HARDWARE_NUMBER' is not EPS-HW-02"):
        rig.ecu("acme").flasher.flash_software([load_software(APP_2)])


def test_a_uds_trigger_cuts_power_at_the_erase_of_the_second_block(rig: Bench, ecu: EcuHandle) -> None:
    software = [load_software(APP_2)]
    injector = FaultInjector(rig)
    try:
        injector.when(uds.request("RoutineControl", routine=0xFF00, nth=2)).power_cut(ecu)
        with pytest.raises(FlashError) as cut:
            ecu.flasher.flash_software(software)
        # the cut lands before the virtual ECU acts on the erase (bench.faults.uds_events)
        assert cut.value.result.timeline.steps[-1].name == "RoutineControl erase memory block 1"
    finally:
        injector.close()  # power back on
    resumed = ecu.flasher.flash_software(software, resume=True, expect_version="2.0.0")
    assert resumed.resumed_block == 1


def test_catalog_phases_follow_the_flash_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    """A catalog's ``erase`` and ``security`` points are the spec's routine and level, not the profile's defaults."""
    monkeypatch.syspath_prepend(str(WALKTHROUGH))
    profile = load_bench(WALKTHROUGH / "acme-bench.yaml").profiles["acme"]
    profile = profile.model_copy(update={"routines": type(profile.routines)(),
                                         "security": profile.security.model_copy(update={"level": 0x11})})
    ecu = SimpleNamespace(profile=profile)
    assert "routine=0xff20" in trigger(SimpleNamespace(at="erase"), ecu).description  # type: ignore[arg-type]
    assert "subfunction=0x2" in trigger(SimpleNamespace(at="security"), ecu).description  # type: ignore[arg-type]
