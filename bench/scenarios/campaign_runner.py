"""Runs a campaign scenario (``bench.scenarios.campaign_catalog``) on the bench and judges it.

The campaign's packages and signed manifest are written to the scenario's folder; an update
master (the reference, or another class for the mutant proofs) installs it on the bench's ECUs
while the fault strikes; after a reset, power comes back and a new master of the same class
``recover()``s from its journal. Then the campaign oracles (``bench.scenarios.campaign_oracles``)
judge: the outcome is one the catalog allows; a refused campaign flashed nothing; every target
answers and runs the campaign's old set or its new set; no ECU's update began while the vehicle
broke the preconditions; the master's report says what the ECUs say, and how it brought each ECU
back (a bank switch or a re-flash) is what the bench saw; each ECU was installed only after the
ECUs it depends on; no anti-rollback counter moved before the master committed, and a committed
campaign raised each to its new image's security version (the virtual ECUs' counters read from
their EEPROM at the start, at the master's point ``confirmed`` and at the end; an ECU whose counter
the bench cannot read is listed as not checked); the master did not leave the campaign
``committing``. A violation is an
``OutcomeViolation``. What happened, on a time axis, is returned or handed to ``record``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from udsoncan.exceptions import (InvalidResponseException, NegativeResponseException, TimeoutException,
                                 UnexpectedResponseException)

from bench.config.models import BenchConfig
from bench.image import FirmwareImage
from bench.image.signing import load_private_key, load_public_key
from bench.rig import Bench
from bench.errors import UsageError
from bench.scenarios.campaign_catalog import TIMED, CampaignScenario
from bench.scenarios.campaign_oracles import (check_counters, check_finished, check_nothing_started_while_unsafe,
                                              check_old_or_new_set, check_order, check_refused_untouched, check_report,
                                              check_rollbacks, install_flashes)
from bench.scenarios.campaign_vehicle import ScenarioVehicle, scenario_vehicle, with_restbus
from bench.scenarios.oracles import OutcomeViolation
from bench.vehicle.acceptance import CampaignRefused
from bench.vehicle.campaign_files import SOFTWARE_DIR, CampaignFiles, PackageSource
from bench.vehicle.manifest import CampaignManifest, parse_manifest
from bench.vehicle.master import UpdateMaster
from bench.vehicle.report import CampaignReport

DEV_KEY = Path("fixtures/keys/dev_ed25519.pem")
DEV_PUB = Path("fixtures/keys/dev_ed25519.pub.pem")


class MasterReset(Exception):
    """The master lost power at a scenario's point."""


class UnexpectedOutcome(OutcomeViolation):
    """The campaign ended in an outcome the catalog does not allow."""


@dataclass
class CampaignRun:
    """What a campaign scenario did: the master's journaled points and the faults on a time
    axis (``time.monotonic()``), its report and the ECUs' versions at the end."""

    scenario: CampaignScenario
    points: list[tuple[str, float]] = field(default_factory=list)
    faults: list[tuple[str, float]] = field(default_factory=list)
    outcome: str = ""
    report: CampaignReport | None = None
    refusal: str = ""
    """Why the master refused the campaign (``CampaignRefused``), when it did."""
    versions: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)
    """ECU -> (campaign's from version, to version, running now)."""
    unsafe: list[tuple[float, float | None]] = field(default_factory=list)
    """When the vehicle broke the preconditions: (from, until; None: to the end)."""
    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    """Moment (``start``, ``confirmed``, ``end``) -> ECU -> its anti-rollback counter then."""
    counters_unchecked: dict[str, str] = field(default_factory=dict)
    """ECU -> why the bench cannot read its anti-rollback counter (not checked)."""


Record = Callable[[Bench, CampaignRun], None]


def play_campaign(config: BenchConfig, scenario: CampaignScenario, *, root: Path, workdir: Path,
                  recipe_bytes: Callable[[str], bytes], master: type[UpdateMaster] = UpdateMaster,
                  record: Record | None = None) -> CampaignRun:
    """Bring up the bench ``config`` describes, run the scenario with ``master``, judge it, tear down."""
    folder = workdir / "cloud"
    files = CampaignFiles(scenario.targets, preconditions=scenario.preconditions, install=scenario.install)
    manifest_path = files.write(
        folder, PackageSource(recipe_bytes, root / SOFTWARE_DIR), load_private_key(root / DEV_KEY))
    if scenario.fault == "tampered_package":
        changed = folder / parse_manifest(manifest_path.read_text(), file=manifest_path).targets[scenario.ecu].to.image
        changed.write_bytes(changed.read_bytes() + b"\n")
    run = CampaignRun(scenario)
    partition = scenario.fault == "bus_partition"  # the gateway cuts the bus; the others save its hop
    vehicle_source = scenario.vehicle or ("bus" if config.restbus is not None else "object")
    if vehicle_source == "bus":
        config = with_restbus(config, list(scenario.targets))
    with Bench(config, workdir=workdir / "bench", ecus=list(scenario.targets), gateway=partition) as rig, \
            scenario_vehicle(rig, vehicle_source) as vehicle:
        try:
            _run(rig, run, manifest_path, master, root, vehicle)
            _judge(rig, run, manifest_path)
        finally:
            run.versions = {name: (target.from_[0], target.to[0], _running(rig, name))
                            for name, target in scenario.targets.items()}
            if record is not None:
                record(rig, run)
    return run


def _run(rig: Bench, run: CampaignRun, manifest_path: Path, kind: type[UpdateMaster], root: Path,
         vehicle: ScenarioVehicle) -> None:
    scenario = run.scenario
    dead = False
    counts: dict[str, int] = {}

    def park() -> None:
        parked = time.monotonic()  # before: the master may hear it, and go on, before park() returns
        vehicle.park()
        run.unsafe[-1] = (run.unsafe[-1][0], parked)

    parking = threading.Timer(scenario.parks_after or 0.0, park)
    parking.daemon = True

    def strike() -> None:
        nonlocal dead
        run.faults.append((scenario.fault, time.monotonic()))
        if scenario.fault == "moving_vehicle":
            vehicle.drive_off()  # returns once the master can know it (on the bus: its listener heard it)
            run.unsafe.append((time.monotonic(), None))
            if scenario.parks_after is not None:
                parking.start()
            return
        if scenario.fault == "bus_partition":
            rig.gateway(rig.config.ecus[scenario.struck_ecu].bus).partition(scenario.lasting or 0.0)
            return
        dead = True
        if scenario.fault == "vehicle_power_loss":
            for supply in rig.supplies.values():
                supply.off()
        raise MasterReset(scenario.at)

    def probe(point: str) -> None:
        if dead:
            raise MasterReset("the master has no power")
        counts[point] = counts.get(point, 0) + 1
        if point.startswith("downloading:"):
            if f"{point}#{counts[point]}" == scenario.at:
                strike()
            return
        run.points.append((point, time.monotonic()))
        if point == "confirmed" and point not in run.counters:  # every target confirmed, nothing committed
            run.counters[point] = _counters(rig, run)
        if point == scenario.at and counts[point] == 1:
            strike()

    class Probed(kind):  # type: ignore[valid-type, misc]
        """The master class under test, that takes no further step once it has lost power."""

        def _save(self) -> None:
            if dead:
                raise MasterReset("the master has no power")
            super()._save()

    trusted = load_public_key(root / DEV_PUB)
    nvm = rig.workdir / "master-nvm"
    run.counters["start"] = _counters(rig, run)
    try:
        if scenario.at == "start" and scenario.fault in TIMED:
            strike()
        run.report = Probed(rig, nvm, trusted, vehicle.conditions, probe=probe).run(manifest_path)
    except CampaignRefused as refusal:
        run.points.append((f"refused: {refusal}", time.monotonic()))
        run.outcome, run.refusal = "refused", str(refusal)
        return
    except MasterReset:
        for supply in rig.supplies.values():
            supply.on()
        dead = False
        restarted = kind(rig, nvm, trusted, vehicle.conditions, probe=probe)
        run.points.append(("recover", time.monotonic()))
        run.report = restarted.recover()
        record = restarted.campaign
        run.outcome = record.phase if record is not None else "refused"
        return
    finally:
        parking.cancel()
    run.outcome = run.report.outcome


def _judge(rig: Bench, run: CampaignRun, manifest_path: Path) -> None:
    manifest = parse_manifest(manifest_path.read_text(), file=manifest_path)
    if run.scenario.fault in TIMED and not run.faults:
        raise UsageError(f"{run.scenario.source.name}:{run.scenario.line}: the master never reached "
                         f"{run.scenario.at!r}: the scenario tested nothing (a download with fewer blocks?)")
    installs = install_flashes(manifest, rig.flash_results())
    check_nothing_started_while_unsafe(installs, run.unsafe)  # the cause first, before the outcome it may spoil
    run.counters["end"] = _counters(rig, run)
    committed = run.outcome == "committed"
    check_counters(run.outcome, run.counters, _security_versions(manifest, run.counters["start"]) if committed else {})
    why = run.report.reason if run.report is not None else run.refusal
    check_finished(run.outcome, why)
    if run.outcome not in run.scenario.expect:
        raise UnexpectedOutcome(f"the campaign ended {run.outcome}, the catalog expects "
                                f"{' or '.join(run.scenario.expect)}" + (f" ({why})" if why else ""))
    if run.outcome == "refused":
        check_refused_untouched(rig.flash_results())
    running = {name: _running(rig, name) for name in manifest.targets}
    check_old_or_new_set(manifest, running)
    if run.report is not None:
        check_report(run.report, running)
        check_rollbacks(manifest, run.report, rig.flash_results())
    check_order(manifest, installs)


def _counters(rig: Bench, run: CampaignRun) -> dict[str, int]:
    """The targets' anti-rollback counters the bench can read (virtual ECUs whose bootloader keeps
    one); the others are noted in ``run.counters_unchecked``."""
    counters = {}
    for name in run.scenario.targets:
        sim = rig.ecu(name).sim
        counter = sim.anti_rollback_counter() if sim is not None else None
        if counter is not None:
            counters[name] = counter
        else:
            run.counters_unchecked[name] = ("not a virtual ECU: its counter cannot be read" if sim is None else
                                            f"its {sim.profile.bootloader} bootloader models no counter")
    return counters


def _security_versions(manifest: CampaignManifest, names: Iterable[str]) -> dict[str, int]:
    """The security version of each named target's new image (an ECU that keeps a counter takes the
    bench's signed images), as its header says."""
    return {name: FirmwareImage.from_bytes(manifest.targets[name].to.image.read_bytes()).header.security_version
            for name in names}


def _running(rig: Bench, name: str) -> str | None:
    """What ``name`` runs; None when it runs no application or does not answer (which no oracle accepts)."""
    try:
        return rig.ecu(name).diagnostics.read_version()
    except (NegativeResponseException, TimeoutException, InvalidResponseException, UnexpectedResponseException):
        return None
