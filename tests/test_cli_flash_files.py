"""``ota-bench flash --file``: software files flashed by the ECU's flash specification (the EPS of the
default virtual bench, an HIS-style bootloader), and the mistakes that exit 2 before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.image.software import load_software

ROOT = Path(__file__).resolve().parents[1]
BENCH = str(ROOT / "fixtures" / "benches" / "virtual.yaml")
EPS_2 = ROOT / "fixtures" / "software" / "eps-2.0.0.hex"


def flash(*args: str) -> int:
    return main(["flash", "--bench", BENCH, "--ecu", "eps", *args])


def test_a_hex_file_is_flashed_block_by_block_with_the_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert flash("--file", str(EPS_2), "--expect-version", "2.0.0") == 0
    out = capsys.readouterr().out
    blocks = len(load_software(EPS_2).blocks)
    assert f"{blocks} blocks" in out and "with flash specification 'his'" in out
    assert all(f"RoutineControl check memory block {index}" in out for index in range(blocks))
    assert "eps: version 2.0.0" in out


def test_a_binary_at_an_address_outside_the_ecus_blocks_exits_2(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "app.bin"
    binary.write_bytes(b"\x01" * 64)
    assert flash("--file", f"{binary}@0x7FFF0000") == 2
    assert "outside" in capsys.readouterr().err


def test_software_outside_an_ecus_one_application_region_is_a_user_error_not_a_refusal(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The BCM's profile lists no logical blocks: its application region is its memory map, so
    the EPS's software (at 0x10000) is refused before a request is sent, not by the ECU (exit 1)."""
    assert main(["flash", "--bench", BENCH, "--ecu", "bcm", "--file", str(EPS_2)]) == 2
    captured = capsys.readouterr()
    assert "outside the ECU's memory map (allowed: 0x00080000-0x0018ffff)" in captured.err
    assert "RoutineControl" not in captured.out


@pytest.mark.parametrize("args, message", [
    (["--file", "app.bin@nowhere"], "is not an address"),
    (["--file", str(EPS_2), "--delta-from", "base.yaml"], "--delta-from applies to --image"),
    (["--file", str(EPS_2), "--image", "x.yaml"], "not allowed with argument"),
])
def test_argument_mistakes_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert flash(*args) == 2
    assert message in capsys.readouterr().err


def test_an_image_for_an_ecu_that_takes_software_files_exits_2_saying_use_file(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flash", "--bench", BENCH, "--ecu", "eps", "--image",
                 str(ROOT / "fixtures" / "firmware" / "app-2.1.0.yaml")]) == 2
    captured = capsys.readouterr()
    assert "--image: ECU 'eps' is flashed by flash specification 'his', which takes software files" in captured.err
    assert "Traceback" not in captured.err and "flashing" not in captured.out
