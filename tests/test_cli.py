"""The command line: list a bench, flash by hand, build an image, serve a virtual ECU."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.image import FirmwareImage
from process_lines import first_line as read_first_line

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"
FIRMWARE = REPO / "fixtures" / "firmware"
KEYS = REPO / "fixtures" / "keys"


def run_module(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], check=False, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def write_bench(tmp_path: Path, *, interface: str, channel: str) -> Path:
    """A one-ECU bench (bcm, single bank, on bus ``body``) with absolute paths."""
    bench = tmp_path / "one-ecu-bench.yaml"
    bench.write_text(f"""\
name: one-ecu-bench
dbc: [{REPO / "dbc" / "virtual_vehicle.dbc"}]
buses:
  body: {{interface: {interface}, channel: {channel}}}
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
      trusted_key: {KEYS / "dev_ed25519.pub.pem"}
      factory_image: {FIRMWARE / "app-1.0.0.yaml"}
      status_message: BCM_OtaStatus
""")
    return bench


def test_list_shows_buses_and_both_ecus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--bench", str(BENCH)]) == 0
    out = capsys.readouterr().out
    assert "powertrain" in out and "FD" in out and "classic" in out
    bcm = next(line for line in out.splitlines() if line.startswith("bcm "))
    bms = next(line for line in out.splitlines() if line.startswith("bms "))
    assert "0x7E0" in bcm and "0x7E8" in bcm and "single_bank" in bcm and "virtual" in bcm and "kl30_body" in bcm
    assert "0x7E1" in bms and "0x7E9" in bms and " ab " in bms and "kl30_powertrain" in bms


def test_flash_prints_timeline_and_new_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["flash", "--bench", str(BENCH), "--ecu", "bcm", "--image", str(FIRMWARE / "app-2.0.0.yaml"),
                 "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "TransferData" in out
    assert "bcm: version 2.0.0" in out


def test_flash_that_the_ecu_rejects_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["flash", "--bench", str(BENCH), "--ecu", "bms", "--workdir", str(tmp_path),
                 "--image", str(FIRMWARE / "app-2.0.0-foreign.yaml")])
    captured = capsys.readouterr()
    assert code == 1
    assert "ECU failure" in captured.err and "status 0x03" in captured.err


def test_unknown_ecu_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flash", "--bench", str(BENCH), "--ecu", "abs", "--image", str(FIRMWARE / "app-2.0.0.yaml")]) == 2
    assert "no ECU named 'abs'" in capsys.readouterr().err


def test_bad_bench_file_exits_2_with_file_and_line_and_no_traceback(tmp_path: Path) -> None:
    bench = tmp_path / "bench.yaml"
    bench.write_text("name: typo-bench\n"
                     "buses:\n"
                     "  body:\n"
                     "    interface: virtual\n"
                     "    channel: body\n"
                     "    bitrat: 500000\n"
                     "ecus: {}\n")
    line = 6
    result = run_module("list", "--bench", str(bench))
    assert result.returncode == 2
    assert f"{bench}:{line}" in result.stderr
    assert "did you mean 'bitrate'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bus_that_cannot_be_opened_is_a_bench_fault(tmp_path: Path) -> None:
    bench = write_bench(tmp_path, interface="socketcan", channel="no-such-can0")
    result = run_module("flash", "--bench", str(bench), "--ecu", "bcm", "--workdir", str(tmp_path),
                        "--image", str(FIRMWARE / "app-2.0.0.yaml"))
    assert result.returncode == 3
    assert "bench fault" in result.stderr and "no-such-can0" in result.stderr
    assert "Traceback" not in result.stderr

def test_image_writes_a_file_whose_header_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "app.bin"
    assert main(["image", str(FIRMWARE / "app-2.0.0.yaml"), "-o", str(out)]) == 0
    image = FirmwareImage.from_bytes(out.read_bytes())
    printed = capsys.readouterr().out
    assert image.header.version == "2.0.0"
    assert image.header_digest.hex() in printed
    assert str(len(out.read_bytes())) in printed


def test_sim_serves_until_sigterm_then_exits_cleanly(tmp_path: Path) -> None:
    bench = write_bench(tmp_path, interface="virtual", channel="cli-sim-body")
    nvm = tmp_path / "nvm"
    process = subprocess.Popen([sys.executable, "-m", "bench", "sim", "--bench", str(bench), "--ecu", "bcm",
                                "--nvm", str(nvm)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first_line = read_first_line(process, deadline=time.monotonic() + 30)
        assert "bcm: virtual ECU listening" in first_line and "cli-sim-body" in first_line
        assert (nvm / "bcm.flash").is_file()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert b"bcm: stopped" in out
    assert b"Traceback" not in err



def test_udsoncans_negative_response_lines_show_with_verbose_only_and_bench_warnings_always() -> None:
    """A command decodes the negative responses it meets; udsoncan's own error line for each is noise
    (it followed the report of a recovered campaign), the bench's warnings are not."""
    script = ("import logging, sys\nfrom bench.cli import configure_logging\nconfigure_logging(int(sys.argv[1]))\n"
              "logging.getLogger('UdsClient[bcm]').error('[NegativeResponseException] : ConditionsNotCorrect')\n"
              "logging.getLogger('bench.power.process').warning('the ECU program stopped by itself')\n")
    quiet, verbose = (subprocess.run([sys.executable, "-c", script, level], capture_output=True, text=True,
                                     cwd=REPO, timeout=60) for level in ("0", "1"))
    assert quiet.stderr == "ota-bench: bench.power.process: the ECU program stopped by itself\n"
    assert "[NegativeResponseException] : ConditionsNotCorrect" in verbose.stderr
