"""The update master and the simulated vehicle as two programs a lab runs, nothing of pytest between
them (issue 14): `ota-bench sim --all` serves every virtual ECU of a bench file (its classic CAN
buses as SLCAN ports, the rest-bus on body) and writes the tester's bench file; `ota-bench
campaign` installs a signed campaign through that file only. The master commits, its report names
the new versions, and the simulator, stopped, says each ECU runs its new version from its NVM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from campaigns import DEV_PUB, ROOT, UPDATE, write_campaign
from process_lines import lines_until
from rack_suite import virtual_rack

pytestmark = pytest.mark.integration

STARTS_WITHIN = 60.0
CAMPAIGN_WITHIN = 240.0
"""Seconds bounding each program under the shared machine's load: against hanging, not a timing."""


def classic_vehicle(folder: Path) -> Path:
    """The virtual bench with its powertrain bus made classic CAN (SLCAN carries classic CAN only)
    and the rest-bus sending the vehicle state on body."""
    path = virtual_rack(folder, "vehicle")
    text = path.read_text()
    fd = ("    fd: true                    # CAN FD: data_bitrate is only allowed with fd: true\n"
          "    bitrate: 500000             # arbitration phase\n"
          "    data_bitrate: 2000000       # data phase\n")
    assert fd in text, "fixtures/benches/virtual.yaml's powertrain bus changed: update this test"
    path.write_text(text.replace(fd, "    bitrate: 500000\n") + "\nrestbus:\n  buses: [body]\n")
    return path


def test_ota_bench_campaign_installs_a_campaign_on_the_vehicle_ota_bench_sim_serves(tmp_path: Path) -> None:
    tester = tmp_path / "tester.yaml"
    sim = subprocess.Popen([sys.executable, "-m", "bench", "sim", "--bench", str(classic_vehicle(tmp_path)),
                            "--all", "--nvm", str(tmp_path / "ecus"), "--slcan", "127.0.0.1:0",
                            "--write-bench", str(tester)],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines_until(sim, "serving ", deadline=time.monotonic() + STARTS_WITHIN)
        manifest = write_campaign(tmp_path / "cloud", after={"eps": ["bcm"], "bms": ["bcm"]})
        report = tmp_path / "report.json"
        master = subprocess.run([sys.executable, "-m", "bench", "campaign", "--bench", str(tester),
                                 "--manifest", str(manifest), "--key", str(DEV_PUB), "--nvm", str(tmp_path / "master"),
                                 "--listen", "2", "--report", str(report)],
                                cwd=ROOT, capture_output=True, text=True, timeout=CAMPAIGN_WITHIN)
        assert master.returncode == 0, master.stdout + master.stderr
        document = json.loads(report.read_text())
        assert document["outcome"] == "committed", document
        assert {name: (status["running"], status["status"]) for name, status in document["ecus"].items()} == \
            {name: (new[0], "updated") for name, (_, new) in UPDATE.items()}
        sim.send_signal(signal.SIGINT)
        out, err = sim.communicate(timeout=STARTS_WITHIN)
        assert sim.returncode == 0, err.decode()
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.communicate()
    for name, (_, (version, _)) in UPDATE.items():
        assert f"{name}: runs version {version}" in out.decode()
