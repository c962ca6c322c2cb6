"""The tester's progress record of a software-file flash (``bench.flash.progress_record``) and the
resume it gives a later flasher (``bench.flash.block_resume``): the same ECU, software and identity
resume at the block the last attempt stopped in; a swapped ECU starts at block 0; a file that is
not a record is a ConfigError naming it. The ``flasher`` fixture keeps one with ``--flash-progress``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.config.flash_spec import ReadDidStep
from bench.errors import ConfigError, FlashError
from bench.flash.progress_record import FORMAT, BlocksDone, ProgressRecord
from bench.image.software import load_software
from bench.rig import Bench

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "fixtures" / "benches" / "virtual.yaml"
EPS_2 = ROOT / "fixtures" / "software" / "eps-2.0.0.hex"
APPLICATION = 0x8000  # bytes of the EPS's application block in its HEX files (then its calibration)
GOOD = {"format": FORMAT, "version": 1, "ecu": "eps", "software": "ab" * 32, "identity": {"0xF18C": "SN1"},
        "blocks": ["application 0x00010000", "calibration 0x00080000"], "blocks_done": 1, "complete": False}


def test_a_record_reads_back_what_was_written_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    record = ProgressRecord(tmp_path / "progress" / "eps.json")
    assert record.read() is None
    done = BlocksDone("eps", "ab" * 32, ("application 0x00010000", "calibration 0x00080000"), 1, {"0xF18C": "SN1"})
    record.write(done)
    record.write(done)
    assert record.read() == done
    assert [path.name for path in record.path.parent.iterdir()] == ["eps.json"]


@pytest.mark.parametrize("text, what", [
    ("{not json", "is not JSON"),
    (json.dumps({**GOOD, "format": "something else"}), "is not a flash progress record"),
    (json.dumps([1, 2]), "is not a flash progress record"),
    (json.dumps({**GOOD, "version": 2}), "is a record of version 2; this bench reads version 1"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "software"}), "has no str 'software'"),
    (json.dumps({**GOOD, "blocks_done": True}), "has no int 'blocks_done'"),
    (json.dumps({**GOOD, "blocks_done": 3}), "says 3 of 2 logical blocks are done"),
    (json.dumps({**GOOD, "identity": {"0xF18C": 7}}), "holds a block name or identity value that is not text"),
])
def test_a_file_that_is_not_a_record_is_a_config_error_naming_it(tmp_path: Path, text: str, what: str) -> None:
    path = tmp_path / "eps.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        ProgressRecord(path).read()
    assert str(refused.value).startswith(f"{path}: the flash progress record {what}")


def reading_hardware_number() -> BenchConfig:
    """The virtual bench, its HIS spec reading the hardware number (0xF191) before anything else."""
    config = load_bench(BENCH)
    his = config.profiles["his"]
    read = ReadDidStep(do="read_did", name="ReadDataByIdentifier hardware number", did=0xF191)
    spec = his.flash_spec.model_copy(update={"steps": [read, *his.flash_spec.steps]})
    profiles = {**config.profiles, "his": his.model_copy(update={"flash_spec": spec})}
    return config.model_copy(update={"profiles": profiles})


def cut_in_block_1(config: BenchConfig, workdir: Path, progress: Path) -> None:
    with Bench(config, workdir=workdir, ecus=["eps"], flash_progress=progress) as rig:
        eps = rig.ecu("eps")
        assert eps.power is not None
        with pytest.raises(FlashError) as cut:
            eps.flasher.flash_software([load_software(EPS_2)],
                                       progress=lambda done, _: done > APPLICATION and eps.power.off())
        assert cut.value.result.blocks_done == 1


def resume(config: BenchConfig, workdir: Path, progress: Path):  # noqa: ANN201 - FlashResult
    """A flasher of a new bench on the same flash (as a later process would be) resumes."""
    with Bench(config, workdir=workdir, ecus=["eps"], flash_progress=progress) as rig:
        return rig.ecu("eps").flasher.flash_software([load_software(EPS_2)], resume=True, expect_version="2.0.0")


def erased(result) -> list[str]:  # noqa: ANN001 - FlashResult
    return [step.name for step in result.timeline.steps if step.name.startswith("RoutineControl erase")]


def test_a_later_flasher_of_the_same_ecu_resumes_at_the_block_on_record(tmp_path: Path) -> None:
    config, progress = reading_hardware_number(), tmp_path / "progress"
    cut_in_block_1(config, tmp_path, progress)
    recorded = ProgressRecord(progress / "eps.json").read()
    assert recorded is not None and recorded.identity == {"0xF191": "EPS-HARDWARE_NUMBER"}
    resumed = resume(config, tmp_path, progress)
    assert resumed.resumed_block == 1 and erased(resumed) == ["RoutineControl erase memory block 1"]
    assert resumed.resume_note.startswith("resumed at logical block 1 (calibration 0x00080000)")
    assert "identity not checked" not in resumed.resume_note


def test_a_swapped_ecu_is_flashed_from_its_first_block(tmp_path: Path) -> None:
    config, progress = reading_hardware_number(), tmp_path / "progress"
    cut_in_block_1(config, tmp_path, progress)
    path = progress / "eps.json"
    path.write_text(path.read_text().replace("EPS-HARDWARE_NUMBER", "EPS-HW-OF-ANOTHER"))  # made on another ECU
    resumed = resume(config, tmp_path, progress)
    assert resumed.resumed_block is None and erased(resumed)[0] == "RoutineControl erase memory block 0"
    assert "was made on another ECU (DID 0xF191 'EPS-HW-OF-ANOTHER'; this one reads DID 0xF191 " \
           "'EPS-HARDWARE_NUMBER')" in resumed.resume_note
    assert resumed.version_after == "2.0.0"


def test_the_flasher_fixture_keeps_a_record_only_with_flash_progress(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
        import pytest
        from bench.image.software import load_software

        @pytest.mark.ecu("eps")
        def test_flash(flasher):
            flasher.flash_software([load_software({str(EPS_2)!r})], expect_version="2.0.0")
            print("record:", flasher.record and flasher.record.path)
    """)
    default = pytester.runpytest("--bench", str(BENCH), "-s", "-p", "no:randomly")
    default.assert_outcomes(passed=1)
    default.stdout.fnmatch_lines(["*record: None*"])
    kept = pytester.runpytest("--bench", str(BENCH), "--flash-progress", str(pytester.path / "kept"), "-s",
                              "-p", "no:randomly")
    kept.assert_outcomes(passed=1)
    done = ProgressRecord(pytester.path / "kept" / "eps.json").read()
    assert done is not None and done.complete and done.blocks_done == 2


def test_a_resumed_flash_that_fails_says_where_it_resumed_and_why(tmp_path: Path) -> None:
    """A failure after a resume may be the resume's (a record of another flash): the verdict says it."""
    config, progress = reading_hardware_number(), tmp_path / "progress"
    cut_in_block_1(config, tmp_path, progress)
    with Bench(config, workdir=tmp_path, ecus=["eps"], flash_progress=progress) as rig:
        eps = rig.ecu("eps")
        assert eps.power is not None
        with pytest.raises(FlashError) as cut:
            eps.flasher.flash_software([load_software(EPS_2)], resume=True, progress=lambda done, _: eps.power.off())
    assert "(this attempt resumed at logical block 1 (calibration 0x00080000): progress record" in str(cut.value)
