"""`ota-bench sim` tells a newcomer the next step: the tester's bench file it writes, the flash
command that reaches it, what it runs at start (from its kept NVM), and sessions and downloads
as a tester works with it."""

from __future__ import annotations

import argparse
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import can
import cantools
import pytest

from bench.cli import main
from bench.cli.sim import example_recipe, next_steps
from bench.config import load_bench
from bench.rig import Bench
from bench.monitor.vehicle_listener import VehicleListener
from bench.monitor.vehicle_signals import VehicleSignals
from process_lines import lines_until
from rack_suite import virtual_rack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"
STARTS_WITHIN, STOPS_WITHIN = 60.0, 30.0
"""Seconds a simulator may take, on a loaded machine, to start and to stop: never reached."""


def start_sim(*args: str | Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench", "sim", "--bench", str(BENCH), "--ecu", "bcm",
                             *map(str, args)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=STOPS_WITHIN)
    assert process.returncode == 0, err.decode()
    return out.decode()


def test_sim_writes_the_tester_bench_prints_the_flash_command_and_logs_what_the_tester_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # where the simulator runs: the printed command's paths are relative to it
    nvm, tester = tmp_path / "nvm", tmp_path / "tester.yaml"
    process = start_sim("--nvm", nvm, "--slcan", "127.0.0.1:0", "--write-bench", tester)
    try:
        start = lines_until(process, "next:", deadline=time.monotonic() + STARTS_WITHIN)
        assert f"bcm: new NVM in {nvm}, programmed with its factory image" in start
        assert "bcm: runs version 1.0.0 (bank A, application)" in start
        url = re.search(r"served over SLCAN at (socket://127\.0\.0\.1:\d+)", start[0])
        assert url, start
        assert load_bench(tester).buses["body"].channel == url.group(1)  # the file reaches this very port
        command = shlex.split(start[-1].removeprefix("next: "))
        assert command[:5] == ["ota-bench", "flash", "--bench", str(tester), "--ecu"], start[-1]

        assert main(command[1:]) == 0  # the printed command, as a newcomer would paste it
        log = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    for line in ("bcm: session programming", "bcm: security access granted (level 0x11)",
                 "bcm: download of 65,792 B at 0x80000 accepted",
                 "bcm: download ended: 17 TransferData blocks, 65,792 B received",
                 "bcm: check programming dependencies: ok", "bcm: reset", "bcm: runs version 2.1.0"):
        assert line in log, log

    again = start_sim("--nvm", nvm)
    try:
        start = lines_until(again, "next:", deadline=time.monotonic() + STARTS_WITHIN)
    finally:
        stop(again)
    assert f"bcm: NVM kept in {nvm}: it starts as the last run left it" in start
    assert "bcm: runs version 2.1.0 (bank A, application)" in start  # what the kept NVM holds
    assert start[-1].startswith("next: restart with --slcan")  # the virtual bus reaches no other process


def test_a_tester_bench_for_a_bus_no_other_process_can_open_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--bench", str(BENCH), "--ecu", "bcm", "--nvm", str(tmp_path),
                 "--write-bench", str(tmp_path / "tester.yaml")]) == 2
    assert "uses python-can's 'virtual' interface, which no other process can open; serve it over SLCAN too " \
           "(--slcan 127.0.0.1:0)" in capsys.readouterr().err
    assert not (tmp_path / "tester.yaml").exists()


@pytest.mark.parametrize(("ecu", "advice"), [
    ("bcm", "next: restart with --slcan 127.0.0.1:0 --write-bench tester.yaml, then flash with that bench file"),
    ("bms", "next: give its bus a socketcan/vcan channel in the bench file (SLCAN carries classic CAN only)")])
def test_the_next_step_from_a_virtual_bus_fits_the_bus(ecu: str, advice: str) -> None:
    args = argparse.Namespace(ecu=ecu, bench=BENCH, write_bench=None)
    assert next_steps(load_bench(BENCH), args, None)[-1].startswith(advice)


def test_the_next_step_on_a_bus_other_processes_open_is_flash_without_its_simulator() -> None:
    config = load_bench(BENCH)
    body = config.buses["body"].model_copy(update={"interface": "socketcan", "channel": "vcan0"})
    config = config.model_copy(update={"buses": {**config.buses, "body": body}})
    args = argparse.Namespace(ecu="bcm", bench=BENCH, write_bench=None)
    assert next_steps(config, args, None) == [f"next: ota-bench flash --bench {BENCH} --ecu bcm --no-sim "
                                              f"--image {example_recipe()}"]


def test_sim_sends_the_rest_bus_frames_when_the_bench_file_enables_them(tmp_path: Path) -> None:
    """A master in another process hears a parked car over the simulator's SLCAN port."""
    rack = virtual_rack(tmp_path, "vehicle-rack", only="bcm")
    rack.write_text(rack.read_text() + "\nrestbus:\n  buses: [body]\n")
    process = subprocess.Popen([sys.executable, "-m", "bench", "sim", "--bench", str(rack), "--ecu", "bcm",
                                "--nvm", str(tmp_path / "nvm"), "--slcan", "127.0.0.1:0"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        start = lines_until(process, "next:", deadline=time.monotonic() + STARTS_WITHIN)
        url = re.search(r"served over SLCAN at (socket://127\.0\.0\.1:\d+)", "\n".join(start))
        assert url, start
        assert ("rest-bus: sending VCU_VehicleState, VCU_BatteryState on bus 'body': speed 0.0, gear P, "
                "ignition on, parking_brake applied, battery_voltage 12.6, state_of_charge 80.0") in start
        database = cantools.database.load_file(str(REPO / "dbc" / "virtual_vehicle.dbc"))
        listener = VehicleListener(VehicleSignals.from_dbc(database))
        with can.Bus(interface="slcan", channel=url.group(1), bitrate=500000) as master:
            deadline = time.monotonic() + STARTS_WITHIN
            while listener.why_not_safe() is not None and time.monotonic() < deadline:
                frame = master.recv(0.1)
                if frame is not None:
                    listener.on_message_received(frame)
        assert listener.why_not_safe() is None, listener.state()
        stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_sim_serves_several_ecus_at_once_through_one_tester_bench_file(tmp_path: Path) -> None:
    """BCM and EPS share the classic bus 'body': one SLCAN port serves both; the written bench file
    flashes one with `ota-bench flash` and reads the other's version; SIGINT stops them with 0."""
    nvm, tester = tmp_path / "nvm", tmp_path / "tester.yaml"
    process = subprocess.Popen([sys.executable, "-m", "bench", "sim", "--bench", str(BENCH), "--ecu", "bcm",
                                "--ecu", "eps", "--nvm", str(nvm), "--slcan", "127.0.0.1:0",
                                "--write-bench", str(tester)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        start = lines_until(process, "serving ", deadline=time.monotonic() + STARTS_WITHIN)
        for ecu in ("bcm", "eps"):
            assert f"{ecu}: new NVM in {nvm / ecu}, programmed with its factory image" in start
        urls = set(re.findall(r"served over SLCAN at (socket://127\.0\.0\.1:\d+)", "\n".join(start)))
        assert len(urls) == 1, start  # one port per bus
        tester_config = load_bench(tester)
        assert set(tester_config.ecus) == {"bcm", "eps"}
        assert tester_config.buses["body"].channel == urls.pop()
        flash = next(line for line in start if line.startswith("next: ota-bench flash") and "--ecu bcm" in line)
        assert f"next: ota-bench flash --bench {tester} --ecu eps --file APP.hex" in start  # HIS: software files
        assert f"next: ota-bench campaign --bench {tester} --manifest M.yaml --key PUB.pem --nvm DIR" in start

        assert main(shlex.split(flash.removeprefix("next: "))[1:]) == 0
        with Bench(tester_config, workdir=tmp_path / "tester") as rig:
            assert rig.ecu("eps").diagnostics.read_version() == "1.0.0"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=STOPS_WITHIN)
        assert process.returncode == 0, err.decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "bcm: runs version 2.1.0" in out.decode()
    assert "eps: stopped" in out.decode()


def test_sim_refuses_to_serve_a_can_fd_bus_over_slcan_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--bench", str(BENCH), "--all", "--nvm", str(tmp_path), "--slcan", "127.0.0.1:0"]) == 2
    error = capsys.readouterr().err
    assert "--slcan: ECU 'bms' is on CAN FD bus 'powertrain'; SLCAN carries classic CAN only" in error
    assert "or make the bus classic CAN in the bench file: drop its fd and data_bitrate" in error


@pytest.mark.parametrize("choice", [[], ["--all", "--ecu", "bcm"]])
def test_sim_wants_either_ecu_names_or_all(choice: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--bench", str(BENCH), *choice]) == 2
    assert "name the ECUs to serve with --ecu NAME (once or more) or serve them all with --all" \
           in capsys.readouterr().err
