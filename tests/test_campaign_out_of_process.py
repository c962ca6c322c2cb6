"""The update master as the device under test (issue 14): the test runs the virtual vehicle (bcm and
eps on the body bus, bms on the powertrain bus made classic CAN, both served as SLCAN over TCP with
``share: slcan``, the rest-bus on body; eps and bms install side by side after bcm), and
the reference master runs in another process (``ota-bench campaign``) that reaches it only through
python-can's ``slcan`` interface, reading the vehicle state from the bus. The test strikes in the
middle of the campaign (an ECU's supply cut, the master killed and started again on its NVM) and
judges from what the ECUs say through its own tester links, with the campaign oracles, and from
the report the master writes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.cli import tester_bench
from bench.config.models import RestBusConfig
from bench.rig import Bench
from bench.scenarios.campaign_oracles import check_old_or_new_set, check_report
from bench.vehicle.report import CampaignReport, EcuStatus
from campaigns import DEV_PUB, ROOT, UPDATE, read_manifest, virtual_bench, write_campaign
from process_lines import lines_until

pytestmark = pytest.mark.integration

ECUS = ("bcm", "eps", "bms")
"""The vehicle: bcm and eps on the body bus, bms on the powertrain bus, made classic CAN in the test's
copy of the bench (SLCAN carries classic CAN only)."""
WAIT = 180.0
"""Seconds a campaign may take at most under the shared machine's load: a bound against hanging, not a timing."""


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Bench]:
    config = virtual_bench()
    body = config.buses["body"].model_copy(update={"share": "slcan"})
    powertrain = config.buses["powertrain"].model_copy(update={"share": "slcan", "fd": False, "data_bitrate": None})
    config = config.model_copy(update={"buses": {"body": body, "powertrain": powertrain},
                                       "restbus": RestBusConfig(buses=["body"])})
    with Bench(config, workdir=tmp_path / "vehicle", ecus=ECUS, gateway=False) as bench:
        yield bench


def master_bench(rig: Bench, path: Path) -> Path:
    """The master's bench file: the ECUs as real ones, each on the hub of its bus."""
    hubs = {bus: rig.hubs[bus].url for bus in {rig.config.ecus[name].bus for name in ECUS}}
    document = {**tester_bench.tester_bench(rig.config, list(ECUS), hubs), "name": "vehicle-master"}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def start_master(bench_file: Path, manifest: Path, nvm: Path, report: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench", "campaign", "--bench", str(bench_file),
                             "--manifest", str(manifest), "--key", str(DEV_PUB), "--nvm", str(nvm),
                             "--report", str(report)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finished(master: subprocess.Popen[bytes], report: Path) -> tuple[int, dict[str, Any]]:
    code = master.wait(timeout=WAIT)
    assert report.exists(), f"the master exited {code} without a report: {master.stdout.read()!r}"  # type: ignore[union-attr]
    return code, json.loads(report.read_text())


def run_master(rig: Bench, manifest: Path, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    """The master run to its end, untouched: its exit code and report."""
    report = tmp_path / "report.json"
    master = start_master(master_bench(rig, tmp_path / "master.yaml"), manifest, tmp_path / "nvm", report)
    try:
        return finished(master, report)
    finally:
        master.kill()


def as_report(document: dict[str, Any]) -> CampaignReport:
    ecus = {name: EcuStatus(**status) for name, status in document["ecus"].items()}
    return CampaignReport(document["campaign"], document["sequence"], document["outcome"], document["reason"], ecus)


def versions(rig: Bench) -> dict[str, str | None]:
    """What the ECUs run, read through the test's own tester links."""
    return {name: rig.ecu(name).diagnostics.read_version() for name in ECUS}


def judge(rig: Bench, manifest: Path, document: dict[str, Any]) -> dict[str, str | None]:
    """The ECUs' versions, checked against the campaign and the master's report."""
    running = versions(rig)
    check_old_or_new_set(read_manifest(manifest), running)
    check_report(as_report(document), running)
    return running


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    return write_campaign(tmp_path / "cloud", targets={name: UPDATE[name] for name in ECUS},
                          after={"eps": ["bcm"], "bms": ["bcm"]})


def test_an_ecu_losing_power_in_its_download_rolls_the_campaign_back(rig: Bench, campaign: Path,
                                                                      tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    master = start_master(master_bench(rig, tmp_path / "master.yaml"), campaign, tmp_path / "nvm", report)
    try:
        lines_until(master, "campaign: at downloading:eps", deadline=time.monotonic() + WAIT, what="the master")
        supply = rig.supplies[rig.config.ecus["eps"].power or ""]
        supply.off()
        time.sleep(0.5)
        supply.on()
        code, document = finished(master, report)
    finally:
        master.kill()
    assert (code, document["outcome"]) == (1, "rolled_back"), document
    assert judge(rig, campaign, document) == {"bcm": "1.0.0", "eps": "1.0.0", "bms": "1.0.0"}


@pytest.mark.parametrize("whole_vehicle", [False, True], ids=["master-only", "whole-vehicle"])
def test_a_master_killed_mid_campaign_recovers_from_its_nvm(rig: Bench, campaign: Path, tmp_path: Path,
                                                             whole_vehicle: bool) -> None:
    """The master loses power in the EPS's download (SIGKILL), alone or with every ECU's supply."""
    bench_file, nvm, report = master_bench(rig, tmp_path / "master.yaml"), tmp_path / "nvm", tmp_path / "report.json"
    master = start_master(bench_file, campaign, nvm, report)
    try:
        lines_until(master, "campaign: at downloading:eps", deadline=time.monotonic() + WAIT, what="the master")
        if whole_vehicle:
            for supply in rig.supplies.values():
                supply.off()
    finally:
        master.kill()
    master.wait(timeout=WAIT)
    assert not report.exists()
    if whole_vehicle:
        for supply in rig.supplies.values():
            supply.on()
    restarted = start_master(bench_file, campaign, nvm, report)
    try:
        lines_until(restarted, "campaign: recovering cmp-1 (installing)", deadline=time.monotonic() + WAIT, what="the master")
        code, document = finished(restarted, report)
    finally:
        restarted.kill()
    assert (code, document["outcome"]) == (0, "committed"), document
    assert judge(rig, campaign, document) == {"bcm": "1.1.0", "eps": "2.0.0", "bms": "1.1.0"}


def test_a_tampered_manifest_is_refused_by_the_master_and_nothing_is_flashed(rig: Bench, campaign: Path,
                                                                             tmp_path: Path) -> None:
    campaign.write_text(campaign.read_text().replace("sequence: 1", "sequence: 2"))
    code, document = run_master(rig, campaign, tmp_path)
    assert (code, document["outcome"], document["reason"]) == (1, "refused", "signature"), document
    assert versions(rig) == {"bcm": "1.0.0", "eps": "1.0.0", "bms": "1.0.0"}


def test_a_moving_vehicle_heard_on_the_bus_is_refused_by_the_master(rig: Bench, campaign: Path,
                                                                     tmp_path: Path) -> None:
    assert rig.vehicle is not None
    rig.vehicle.speed, rig.vehicle.gear = 30.0, "D"
    code, document = run_master(rig, campaign, tmp_path)
    assert (code, document["outcome"], document["reason"]) == (1, "refused", "preconditions"), document
    assert "speed 30 km/h above 0; gear D not in P" in document["detail"]
    assert versions(rig) == {"bcm": "1.0.0", "eps": "1.0.0", "bms": "1.0.0"}
