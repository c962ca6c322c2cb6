"""``ota-bench flash --file ... --resume`` in a later process: the EPS of the default virtual bench (an
HIS-style bootloader, no journal) loses power inside its 2nd logical block in one ``ota-bench``
process; a second one resumes at that block from the tester's progress record. A broken record is a
user error naming the file; a record of other software starts again at block 0 and says why."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.cli.flash import progress_file
from bench.config import load_bench
from bench.flash.progress_record import BlocksDone, ProgressRecord

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
BENCH = str(ROOT / "fixtures" / "benches" / "virtual.yaml")
EPS_2 = str(ROOT / "fixtures" / "software" / "eps-2.0.0.hex")
FLASH = ["flash", "--bench", BENCH, "--ecu", "eps", "--file", EPS_2, "--expect-version", "2.0.0"]


def ota_bench(*args: str, cut_at: tuple[str, int] | None = None) -> subprocess.CompletedProcess[str]:
    """``ota-bench ARGS`` in a process of its own; ``cut_at`` (service, nth): with the EPS's power cut
    when that request reaches it (tests/cli_power_cut.py)."""
    command = [str(TESTS / "cli_power_cut.py"), cut_at[0], str(cut_at[1]), "--"] if cut_at else ["-m", "bench"]
    return subprocess.run([sys.executable, *command, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "CI": "1"})


def test_a_flash_cut_in_its_second_block_resumes_there_in_a_later_process(tmp_path: Path) -> None:
    workdir = str(tmp_path)
    cut = ota_bench(*FLASH, "--workdir", workdir, cut_at=("RequestTransferExit", 2))  # block 1's data all sent
    assert cut.returncode == 1, cut.stdout + cut.stderr
    assert "RoutineControl check memory block 0" in cut.stdout and "unpowered" in cut.stderr
    record = json.loads((tmp_path / "flash-progress" / "eps.json").read_text())
    assert (record["blocks_done"], record["complete"]) == (1, False)

    resumed = ota_bench(*FLASH, "--workdir", workdir, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed at logical block 1 (calibration 0x00080000)" in resumed.stdout
    assert "identity not checked: the flash specification reads no identification DID" in resumed.stdout  # his
    for step in ("RoutineControl erase memory block 0", "RequestDownload block 0", "TransferData block 0"):
        assert step not in resumed.stdout  # block 0 is neither erased nor downloaded again
    for step in ("RoutineControl erase memory block 1", "TransferData block 1", "RoutineControl check memory block 1",
                 "RoutineControl check programming dependencies"):
        assert step in resumed.stdout
    assert "eps: version 2.0.0" in resumed.stdout
    record = json.loads((tmp_path / "flash-progress" / "eps.json").read_text())
    assert (record["blocks_done"], record["complete"]) == (2, True)


def test_a_broken_record_exits_2_naming_it_before_anything_is_sent(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "eps-progress.json"
    record.write_text('{"format": "ota-bench flash progress", "version": 1, "ecu": "eps", "blocks_done": ')
    assert main([*FLASH, "--workdir", str(tmp_path), "--progress", str(record), "--resume"]) == 2
    captured = capsys.readouterr()
    assert f"{record}: the flash progress record is not JSON" in captured.err
    assert "RoutineControl" not in captured.out


def test_a_record_of_other_software_starts_at_block_0_and_says_why(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    record = ProgressRecord(tmp_path / "flash-progress" / "eps.json")
    record.write(BlocksDone("eps", "0f" * 32, ("application 0x00010000", "calibration 0x00080000"), 1))
    assert main([*FLASH, "--workdir", str(tmp_path), "--resume"]) == 0
    out = capsys.readouterr().out
    assert (f"started at logical block 0 (application 0x00010000): progress record {record.path} is of other "
            "software (0f0f0f0f0f0f") in out
    assert "RoutineControl erase memory block 0" in out and "eps: version 2.0.0" in out
    written = record.read()
    assert written is not None and written.software != "0f" * 32 and written.complete


def test_without_resume_a_run_starts_at_block_0_and_overwrites_the_record(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    progress = tmp_path / "eps.json"
    progress.write_text("not a record")  # refused if it were read
    assert main([*FLASH, "--workdir", str(tmp_path), "--progress", str(progress)]) == 0
    out = capsys.readouterr().out
    assert "RoutineControl erase memory block 0" in out and "resumed" not in out
    written = ProgressRecord(progress).read()
    assert written is not None and written.complete and written.blocks_done == 2


def test_progress_belongs_to_software_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flash", "--bench", BENCH, "--ecu", "bcm", "--image", "x.yaml", "--progress", "p.json"]) == 2
    assert "--progress applies to --file" in capsys.readouterr().err


@pytest.mark.parametrize("served_here, workdir, progress, where", [
    (True, None, None, "work"),     # a virtual ECU served by this run: its flash is in the (temporary) work folder
    (False, None, None, "cache"),   # served elsewhere (--no-sim): a real ECU to this run
    (False, Path("w"), None, "work"),
    (False, None, Path("p.json"), "given"),
])
def test_the_record_lives_with_the_ecus_flash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served_here: bool,
                                               workdir: Path | None, progress: Path | None, where: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = load_bench(Path(BENCH))
    if not served_here:
        config = config.model_copy(update={"ecus": {**config.ecus, "eps": config.ecus["eps"].model_copy(
            update={"virtual": None})}})
    expected = {"work": tmp_path / "run" / "flash-progress" / "eps.json",
                "cache": tmp_path / "cache" / "ota-bench" / "flash-progress" / config.name / "eps.json",
                "given": progress}[where]
    args = argparse.Namespace(ecu="eps", workdir=workdir, progress=progress)
    assert progress_file(args, config, tmp_path / "run") == expected
