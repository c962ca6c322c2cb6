"""A virtual ECU in a process of its own (`ota-bench sim`), reached the way a real ECU is: through
a python-can interface, not in-process. Over slcan (the simulator serves its bus in SLCAN on a TCP
port, as a USB-serial adapter would) on any machine; over SocketCAN vcan0 where the machine has it.

Power loss here is a real SIGKILL of the simulator's process, its flash and EEPROM being files
on disk; the bench then recovers the ECU from a restarted simulator on the same files.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import can
import pytest
import yaml

from bench.config import BenchConfig, BusConfig, load_bench
from bench.errors import BenchFault, FlashError
from bench.image.builders import firmware_builder
from process_lines import first_line
from bench.rig import Bench

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
VIRTUAL_BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"
SLCAN_BENCH = REPO / "fixtures" / "benches" / "slcan-sim.yaml"
# seconds a simulator may take, on a loaded machine, to start, to answer its first request, to
# stop: generous, never reached
STARTS_WITHIN, ANSWERS_WITHIN, STOPS_WITHIN = 60.0, 10.0, 30.0
VCAN = "vcan0"


class Simulator:
    """One `python -m bench sim ...` process; stderr goes to ``log``."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with log.open("wb") as stderr:
            self.process = subprocess.Popen([sys.executable, "-m", "bench", "sim", *args], cwd=REPO,
                                            stdout=subprocess.PIPE, stderr=stderr)
        self.ready_line = first_line(self.process, deadline=time.monotonic() + STARTS_WITHIN)

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed by the simulator."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> str:
        """SIGTERM, as Ctrl-C; the rest of its output once it has exited."""
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=STOPS_WITHIN)
        assert self.process.returncode == 0, self.log.read_text()
        return out.decode()



StartSimulator = Callable[..., Simulator]


@pytest.fixture
def simulators(tmp_path: Path) -> Iterator[StartSimulator]:
    """``simulators(*args)`` starts `ota-bench sim` and waits for its ready line; every process
    still running at the end of the test is killed."""
    started: list[Simulator] = []

    def start(*args: str | Path) -> Simulator:
        simulator = Simulator([str(arg) for arg in args], tmp_path / f"sim-{len(started)}.log")
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        if simulator.process.poll() is None:
            simulator.kill()
        if simulator.process.stdout:
            simulator.process.stdout.close()


@pytest.fixture
def thread_deaths(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Exceptions that end threads during the test, collected instead of reported."""
    deaths: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: deaths.append(args.exc_value))
    return deaths


def bench_for_simulator(directory: Path, body: BusConfig | None = None) -> Path:
    """virtual.yaml, written to ``directory`` with its bus ``body`` replaced."""
    config = load_bench(VIRTUAL_BENCH)
    config = config.model_copy(update={"buses": {**config.buses, "body": body or config.buses["body"]}})
    path = directory / "simulator-bench.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def bench_for_tester(bus: BusConfig) -> BenchConfig:
    """slcan-sim.yaml (bcm, a real ECU to the bench) with its bus ``body`` replaced."""
    config = load_bench(SLCAN_BENCH)
    return config.model_copy(update={"buses": {"body": bus}})


def flash_killed_then_resumed(start: Callable[[Path], tuple[Simulator, BenchConfig]], tmp_path: Path,
                              thread_deaths: list[BaseException]) -> None:
    """Flash bcm, SIGKILL its simulator halfway through TransferData, restart it on the same NVM
    folder, and resume the download with a bench brought up again."""
    image = firmware_builder(REPO)("app-2.0.0")
    nvm = tmp_path / "nvm"
    simulator, tester = start(nvm)
    killed_at: list[int] = []
    first = Bench(tester, workdir=tmp_path / "before")
    first.start()
    try:
        bcm = first.ecu("bcm")
        bcm.diagnostics.wait_responsive(ANSWERS_WITHIN)
        assert bcm.diagnostics.read_version() == "1.0.0"  # the factory image

        def power_loss(done: int, total: int) -> None:
            if done >= total // 2 and not killed_at:
                simulator.kill()
                bcm.link.ecu_powered(False)  # the bench cut the power itself, so it awaits no answer
                killed_at.append(done)

        with pytest.raises(FlashError, match="TransferData"):
            bcm.flasher.flash(image, progress=power_loss)
    finally:
        try:
            first.close()
        except BenchFault as fault:  # an adapter in the killed process went with it: a fault of the bench
            assert "bus body" in str(fault), fault
    # a tester whose adapter vanished may lose its reader and writer threads, to python-can's error
    assert all(isinstance(death, can.CanOperationError) for death in thread_deaths), thread_deaths
    lost = len(thread_deaths)

    restarted, tester = start(nvm)
    with Bench(tester, workdir=tmp_path / "after") as rig:
        bcm = rig.ecu("bcm")
        bcm.diagnostics.wait_responsive(ANSWERS_WITHIN)
        # a new process, yet the ECU is where the killed one stopped: its NVM came from disk
        assert bcm.diagnostics.read_version() is None  # single bank: the erased application stays erased
        journal = bcm.diagnostics.read_journal()
        assert 0 < journal.committed <= killed_at[0]
        result = bcm.flasher.flash(image, resume=True)
    assert result.resumed_from == journal.committed
    assert result.version_after == "2.0.0"
    assert "bcm: stopped" in restarted.stop()
    assert thread_deaths[lost:] == []  # the recovered bench lost nothing


def test_power_loss_by_process_kill_then_resume_over_slcan(simulators: StartSimulator, tmp_path: Path,
                                                          thread_deaths: list[BaseException]) -> None:
    """`ota-bench sim --slcan` serves bcm's bus over TCP in SLCAN; the bench reaches it with
    python-can's slcan interface (slcan-sim.yaml). Power loss is a SIGKILL of the simulator's
    process, halfway through TransferData; the SLCAN adapter lives in that process and goes with
    it, so the bench is brought up again against the restarted simulator, which must continue
    from its NVM files: the download resumes from the journal and bcm ends on 2.0.0."""
    sim_bench = bench_for_simulator(tmp_path)

    def start(nvm: Path) -> tuple[Simulator, BenchConfig]:
        simulator = simulators("--bench", sim_bench, "--ecu", "bcm", "--nvm", nvm, "--slcan", "127.0.0.1:0")
        served = re.search(r"served over SLCAN at (socket://127\.0\.0\.1:\d+) ", simulator.ready_line)
        assert served, simulator.ready_line
        slcan = load_bench(SLCAN_BENCH).buses["body"]
        return simulator, bench_for_tester(slcan.model_copy(update={"channel": served.group(1)}))

    flash_killed_then_resumed(start, tmp_path, thread_deaths)


def vcan_or_skip() -> None:
    try:
        can.Bus(interface="socketcan", channel=VCAN).shutdown()
    except (can.CanError, OSError, ImportError, ValueError) as exc:
        pytest.skip(f"no SocketCAN {VCAN} on this machine ({exc})")


def test_power_loss_by_process_kill_then_resume_over_vcan(simulators: StartSimulator, tmp_path: Path,
                                                         thread_deaths: list[BaseException]) -> None:
    """The same flow with simulator and bench on SocketCAN vcan0 (Linux CI with the vcan module:
    `ip link add dev vcan0 type vcan && ip link set up vcan0`): power loss is a SIGKILL of the
    simulator's process; the bus outlives it, as a rack's does."""
    vcan_or_skip()
    vcan = BusConfig(interface="socketcan", channel=VCAN)
    sim_bench = bench_for_simulator(tmp_path, vcan)

    def start(nvm: Path) -> tuple[Simulator, BenchConfig]:
        simulator = simulators("--bench", sim_bench, "--ecu", "bcm", "--nvm", nvm)
        assert f"socketcan channel '{VCAN}'" in simulator.ready_line, simulator.ready_line
        return simulator, bench_for_tester(vcan)

    flash_killed_then_resumed(start, tmp_path, thread_deaths)
