"""Helpers of the campaign tests: images and a signed manifest written to a folder, a parked
vehicle, the virtual bench brought up for a campaign."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from bench.config import load_bench
from bench.config.models import BenchConfig
from bench.errors import FlashError
from bench.flash.timeline import Timeline
from bench.image import build_image, load_private_key, load_public_key
from bench.image.builders import firmware_builder
from bench.rig import Bench
from bench.scenarios.campaign_catalog import CampaignScenario
from bench.scenarios.campaign_runner import CampaignRun, play_campaign
from bench.vehicle.manifest import CampaignManifest, parse_manifest
from bench.vehicle.master import UpdateMaster
from bench.vehicle.preconditions import VehicleState
from bench.vehicle.signature import sign_manifest

ROOT = Path(__file__).resolve().parents[1]
DEV_KEY = ROOT / "fixtures" / "keys" / "dev_ed25519.pem"
DEV_PUB = ROOT / "fixtures" / "keys" / "dev_ed25519.pub.pem"
NOW = datetime.datetime(2026, 12, 4, 12, 0, tzinfo=datetime.timezone.utc)

PARKED = VehicleState(speed=0.0, gear="P", ignition="on", parking_brake=True, battery_voltage=12.6,
                      available_energy_wh=500.0)


@dataclass
class Vehicle:
    """The simplest conditions source: a state a test sets."""

    state: VehicleState = PARKED

    def read(self) -> VehicleState:
        return self.state

    def drive_off(self) -> None:
        self.state = replace(self.state, speed=12.0, gear="D", parking_brake=False)


def virtual_bench() -> BenchConfig:
    return load_bench(ROOT / "fixtures" / "benches" / "virtual.yaml").with_network_margin(1.0)


def package_file(folder: Path, source: str) -> Path:
    """``app-1.1.0`` (a recipe: its built image) or ``eps-2.0.0.hex`` (a software file) in ``folder``."""
    if source.endswith(".hex"):
        path = folder / source
        path.write_bytes((ROOT / "fixtures" / "software" / source).read_bytes())
    else:
        path = folder / f"{source}.img"
        path.write_bytes(build_image(ROOT / "fixtures" / "firmware" / f"{source}.yaml").to_bytes())
    return path


def package(folder: Path, version: str, source: str) -> dict[str, str]:
    path = package_file(folder, source)
    return {"version": version, "image": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


UPDATE = {"bcm": (("1.0.0", "app-1.0.0"), ("1.1.0", "app-1.1.0")),
          "eps": (("1.0.0", "eps-1.0.0.hex"), ("2.0.0", "eps-2.0.0.hex")),
          "bms": (("1.0.0", "app-1.0.0"), ("1.1.0", "app-1.1.0"))}
"""ECU -> (from, to), each (version, recipe or software file): the campaign of the tests."""


def write_campaign(folder: Path, *, targets: Mapping[str, tuple[tuple[str, str], tuple[str, str]]] = UPDATE,
                   after: Mapping[str, list[str]] | None = None, sequence: int = 1,
                   version_sets: list[dict[str, str]] | None = None, **fields: object) -> Path:
    """The signed manifest ``campaign.yaml`` in ``folder`` with its images beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    after = {"bms": ["bcm", "eps"]} if after is None else after
    document: dict[str, object] = {
        "campaign": f"cmp-{sequence}", "sequence": sequence,
        "issued": "2026-12-01T00:00:00Z", "expires": "2027-01-01T00:00:00Z",
        "targets": {name: {"from": package(folder, *old), "to": package(folder, *new),
                           **({"after": after[name]} if name in after else {})}
                    for name, (old, new) in targets.items()},
        "version_sets": version_sets or [{name: new[0] for name, (_, new) in targets.items()}],
        "energy": {"update_wh": 30, "recovery_wh": 15},
        **fields}
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    sign_manifest(path, load_private_key(DEV_KEY))
    return path


def read_manifest(path: Path) -> CampaignManifest:
    return parse_manifest(path.read_text(), file=path)


class MasterReset(Exception):
    """The master loses power where a test's probe says."""


def make_master(rig: Bench, tmp_path: Path, vehicle: Vehicle | None = None, *, stop_at: str = "",
                whole_vehicle: bool = False, kind: type[UpdateMaster] = UpdateMaster,
                now: datetime.datetime = NOW) -> UpdateMaster:
    """A master of ``kind`` with its NVM in ``tmp_path``, trusting the development key, that
    loses power (``MasterReset``) the first time it reaches the point ``stop_at``; with
    ``whole_vehicle``, every ECU of the bench loses power with it."""
    def probe(point: str) -> None:
        if point == stop_at:
            if whole_vehicle:
                for supply in rig.supplies.values():
                    supply.off()
            raise MasterReset(point)

    return kind(rig, tmp_path / "master-nvm", load_public_key(DEV_PUB), vehicle or Vehicle(),
                clock=lambda: now, probe=probe)


def running_versions(rig: Bench) -> dict[str, str | None]:
    return {name: rig.ecu(name).diagnostics.read_version() for name in UPDATE}


def flash_times(rig: Bench) -> list[tuple[str, float, float]]:
    """(ECU, start, end) of every flash so far."""
    return [(name, result.timeline.steps[0].start, result.timeline.steps[-1].end or 0.0)
            for name, _, result in rig.flash_results()]


def play(config: BenchConfig, scenario: CampaignScenario, workdir: Path, master: type[UpdateMaster],
         seen: list[tuple[Bench, CampaignRun]] | None = None) -> CampaignRun:
    """Run a campaign scenario with ``master`` on the bench ``config``; ``seen`` gets the bench and
    the run before the bench is torn down."""
    build = firmware_builder(ROOT)
    return play_campaign(config, scenario, root=ROOT, workdir=workdir, master=master,
                         recipe_bytes=lambda recipe: build(recipe).to_bytes(),
                         record=None if seen is None else lambda rig, run: seen.append((rig, run)))


def refuse_commits(rig: Bench, name: str, times: int) -> list[str]:
    """``name``'s flasher fails its next ``times`` ``commit_update()`` calls as an ECU refusing the
    routine would (a FlashError, nothing sent), then commits; the list it returns grows by
    ``refused`` or ``sent`` at each call."""
    flasher = rig.ecu(name).flasher
    send = flasher.commit_update
    calls: list[str] = []

    def commit_update() -> Timeline:
        if calls.count("refused") < times:
            calls.append("refused")
            raise FlashError(f"{name}: RoutineControl commit bank failed: ConditionsNotCorrect (0x22)")
        calls.append("sent")
        return send()

    setattr(flasher, "commit_update", commit_update)
    return calls


def anti_rollback_counters(rig: Bench, names: Iterable[str]) -> dict[str, int]:
    """The anti-rollback counters of ``names`` (the virtual ECUs keeping one) as their EEPROM holds them."""
    return {name: counter for name in names
            if (sim := rig.ecu(name).sim) is not None and (counter := sim.anti_rollback_counter()) is not None}
