"""Run one catalog scenario on a bench: interrupt an update, judge the ECU, recover, judge again.

1. arm the scenario's fault at its trigger point and flash the update;
2. once the fault has acted: the ECU must answer again (never bricked), run an allowed version
   and keep a consistent NVM;
3. with ``interruptions: 2`` the same fault hits the resumed attempt too, and step 2 repeats;
4. a last attempt (resuming from the journal) must end as the catalog expects (``updated``:
   the new version runs; ``rolled_back``/``unchanged``: the old one, still after an ECUReset),
   re-sending at most ``max_resent_blocks`` blocks.

Every violated expectation raises an ``OutcomeViolation`` (its subclass says which kind of
defect) naming the expectation and what the ECU actually did (version, boot state, journal).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from udsoncan.exceptions import TimeoutException

from bench.errors import BenchFault, ConfigError, FlashError, HostOverloaded
from bench.faults import (FaultInjector, Injection, Trigger, last_transfer_block, middle_transfer_block, probe,
                          random_transfer_block, uds)
from bench.faults.kinds import fault_kind
from bench.faults.timeline import FaultTimeline
from bench.flash import FlashResult
from bench.flash.diagnostics import version_text
from bench.image import DeltaPackage, FirmwareImage
from bench.image.release import SoftwareRelease
from bench.rig import Bench
from bench.scenarios.fitted_image import fitted_payload
from bench.scenarios.oracles import (OutcomeViolation, ResumeFailed, RollbackFailed, WrongVersion, nvm_consistent,
                                     recovers, resent_at_most_one_block)
from bench.scenarios.transport import over_transport

if TYPE_CHECKING:
    from pathlib import Path

    from bench.config import BenchConfig
    from bench.rig import EcuHandle
    from bench.scenarios.catalog import Scenario

RECOVERY_BOUND = 5.0
"""Seconds an ECU may take to answer after the fault has ended."""
FAULT_LATENCY = 5.0
"""Seconds the runner waits for an armed fault to fire once the flash attempt is over."""
SCENARIO_BLOCK_RETRIES = 1
"""One retry absorbs a lost frame or response; more only prolongs an attempt the fault has
already ended (each retry waits P2 + ΔP2)."""


@dataclass
class ScenarioOutcome:
    attempts: list[FlashResult] = field(default_factory=list)
    injections: list[Injection] = field(default_factory=list)
    versions_after_fault: list[str | None] = field(default_factory=list)


def bench_scope(scenario: Scenario) -> dict[str, Any]:
    """What of the bench a scenario brings up (``Bench`` keyword arguments): its own ECU, and
    the CAN gateway only when it injects a network fault."""
    return {"ecus": [scenario.ecu], "gateway": fault_kind(scenario.fault).on_bus}


def trigger(scenario: Scenario, ecu: EcuHandle) -> Trigger:
    """The scenario's ``at`` as a fault trigger for ``ecu`` (``@B``: in logical block B's download,
    i.e. the (B+1)th matching request of the attempt)."""
    profile = ecu.profile
    point, _, logical = scenario.at.partition("@")
    nth = int(logical) + 1 if logical else 1
    kind, _, value = point.partition(":")
    if kind == "block":
        return uds.transfer_data(block=int(value), nth=nth)
    if kind == "offset":
        return uds.download_offset(int(value, 0))
    if kind == "page":
        return probe("program_page_half", int(value))
    if kind == "sector":
        return probe("erase_sector_half", int(value))
    if kind == "random_block":
        return random_transfer_block(scenario.seed)
    if kind == "patch_step":
        return probe("patch_step", int(value))
    if kind == "confirm":
        return probe("confirm", _target_bank(ecu))
    routines, spec = profile.routines, profile.flash_spec  # the spec says what the flasher sends
    phases: dict[str, Callable[[], Trigger]] = {
        "session": lambda: uds.request("DiagnosticSessionControl", subfunction=0x02),
        "preconditions": lambda: uds.request("RoutineControl",
                                             routine=spec.preconditions_routine or routines.check_preconditions),
        "security": lambda: uds.request("SecurityAccess", subfunction=(spec.unlock_level or profile.security.level) + 1),
        "fingerprint": lambda: uds.request("WriteDataByIdentifier", did=spec.fingerprint_did or profile.dids.fingerprint),
        "erase": lambda: uds.request("RoutineControl", routine=spec.erase_routine or routines.erase, nth=nth),
        "request_download": lambda: uds.request("RequestDownload", nth=nth),
        "first_block": lambda: uds.transfer_data(block=1, nth=nth),
        "middle_block": middle_transfer_block,
        "last_block": last_transfer_block,
        "transfer_exit": lambda: uds.request("RequestTransferExit", nth=nth),
        "check_block": lambda: uds.request("RoutineControl", routine=spec.check_block_routine or routines.check_memory,
                                           nth=nth),
        "check": lambda: uds.request("RoutineControl",
                                     routine=spec.dependencies_routine or routines.check_dependencies),
        "reset": lambda: uds.request("ECUReset"),
        "boot": lambda: probe("boot", 0),
    }
    if kind not in phases:
        raise ConfigError(f"scenario {scenario.id}: unknown trigger point {scenario.at!r}",
                          file=str(scenario.source), line=scenario.line, field="at")
    return phases[kind]()


def _target_bank(ecu: EcuHandle) -> int:
    core = ecu.sim.core() if ecu.sim else None
    if core is None:
        raise ConfigError(f"'confirm' needs a powered virtual ECU; {ecu.name} is not one")
    return core.boot.target_bank()


def arm(injector: FaultInjector, scenario: Scenario, ecu: EcuHandle) -> Injection:
    """Bind the scenario's fault kind, with its parameters over the kind's defaults, to its trigger."""
    kind = fault_kind(scenario.fault)
    return kind.arm(injector.when(trigger(scenario, ecu)), ecu, kind.settings(scenario.params), scenario.seed)


def _let_fault_play_out(scenario: Scenario, injection: Injection) -> None:
    """Wait until a fault that plays out on its own after firing (a series of dropouts) is over."""
    kind = fault_kind(scenario.fault)
    settle = kind.settle_time(kind.settings(scenario.params))
    if settle and injection.record is not None:
        time.sleep(max(0.0, injection.record.time + settle - time.monotonic()))


Deltas = Callable[[str, str, "EcuHandle"], DeltaPackage]
"""``deltas(from, to, ecu)``: the delta package between two recipes (``factory``: the ECU's own
factory image), cut for ``ecu`` (``bench.image.builders.delta_builder``)."""


Record = Callable[["Bench", bool, dict[str, Any], FaultTimeline], None]
"""``record(bench, failed, states_before, timeline)``: called once the scenario is over, its
faults ended, before the bench closes (``bench.report.evidence.record_evidence``)."""


Update = FirmwareImage | SoftwareRelease
"""What a scenario flashes: a signed image (the bench's bootloaders) or a release of software
files (flashed by the ECU's flash specification)."""


def play(config: BenchConfig, scenario: Scenario, images: Callable[[str], Update], *, workdir: Path,
         deltas: Deltas | None = None, record: Record | None = None) -> ScenarioOutcome:
    """Bring up what ``scenario`` needs of the bench ``config`` describes, run it, tear down.
    Over DoIP (``bench.scenarios.transport``) a TCP relay stands between tester and entity.

    The one way every caller (the catalog's pytest items, the mutant proofs, the benchmarks)
    runs a scenario. A finding about the ECU propagates (``OutcomeViolation``, ``FlashError``...);
    if the simulator or gateway broke meanwhile, whatever the ECU seemed to do is void and a
    ``BenchFault`` is raised instead, also when the scenario seemed to pass. A failure while the
    host made the simulator answer late (``Bench.host_overload``) is ``HostOverloaded``."""
    config, entity = over_transport(config, scenario.ecu, scenario.transport)
    with Bench(config, workdir=workdir, **bench_scope(scenario)) as rig:
        if entity is not None:
            rig.relay_doip(entity)  # before the first request: the TCP faults' place, the pcapng's source
        before = rig.ecu_states() if record is not None else {}
        injector = FaultInjector(rig)
        failed = True
        try:
            outcome = run_scenario(rig, scenario, images, injector, deltas=deltas)
            failed = False
        except Exception as finding:
            if rig.faults():
                raise BenchFault("; ".join(rig.faults())) from finding
            if rig.host_overload():
                raise HostOverloaded(f"host overloaded, the ECU's verdict is void ({finding.__class__.__name__}: "
                                     f"{str(finding)[:300]}): " + "; ".join(rig.host_overload())) from finding
            raise
        finally:
            try:
                injector.close()
            finally:
                if record is not None:
                    record(rig, failed, before, injector.timeline)
        faults = rig.faults()
    if faults:
        raise BenchFault("; ".join(faults))
    return outcome


def run_scenario(bench: Bench, scenario: Scenario, images: Callable[[str], Update],
                 injector: FaultInjector, *, deltas: Deltas | None = None) -> ScenarioOutcome:
    ecu = bench.ecu(scenario.ecu)
    ecu.flasher.block_retries = SCENARIO_BLOCK_RETRIES
    target = images(scenario.to_image)
    if isinstance(target, FirmwareImage):  # a release of software files is flashed whole
        fitted = fitted_payload(scenario, ecu.config, ecu.profile, target.header.payload_length)
        if fitted is not None:
            target = images(scenario.to_image, payload=fitted)
    package = None
    if scenario.package == "delta":
        if deltas is None:
            raise ConfigError(f"scenario {scenario.id}: package: delta, but the runner was given no delta builder")
        package = deltas(scenario.from_image, scenario.to_image, ecu)
    if scenario.from_image != "factory":
        _flash(ecu, images(scenario.from_image), False, None)
    old = ecu.diagnostics.read_version()
    outcome = ScenarioOutcome()
    resume = False
    for number in range(1, scenario.interruptions + 1):
        injection = arm(injector, scenario, ecu)
        outcome.injections.append(injection)
        result = _attempt(ecu, target, resume, package)
        outcome.attempts.append(result)
        if package is not None and number == 1 and result.package != "delta":
            raise OutcomeViolation(f"the flasher sent the full image, not the delta package: {result.package_reason}",
                                   ecu_state=ecu.diagnostics.describe())
        if not injection.wait(FAULT_LATENCY):
            if number > 1:
                # A UDS trigger races the ECU as on a rack: the previous fault may have landed once
                # the ECU had committed that block, and the resume never sends it again; or the
                # resumed attempt stopped before the point. The last attempt below is judged anyway.
                how = "completed" if result.failure is None else f"stopped ({result.failure})"
                injector.timeline.add(injection.trigger, f"{scenario.fault} not reached", ecu.name,
                                      f"interruption {number} of {scenario.interruptions}: the resumed attempt "
                                      f"{how} without passing this point")
                injector.disarm()  # it must not strike the last attempt instead
                break
            if result.failure is not None:
                raise OutcomeViolation(f"the update stopped before the {scenario.fault} at {scenario.at}, "
                                       f"with no fault injected: {result.failure}", ecu_state=ecu.diagnostics.describe())
            raise ConfigError(f"scenario {scenario.id}: the {scenario.fault} at {scenario.at} never fired "
                              "(the trigger point is not reached by this update)",
                              file=str(scenario.source), line=scenario.at_line or scenario.line, field="at")
        _let_fault_play_out(scenario, injection)
        injector.restore()
        outcome.versions_after_fault.append(_judge_after_fault(scenario, ecu, old, version_of(target)))
        resume = True
    last = outcome.attempts[-1]
    if last.failure is not None and not last.rolled_back and outcome.versions_after_fault[-1] != version_of(target):
        # the update must now complete (or be refused); a rolled-back attempt did complete: the ECU refused it
        last = _attempt(ecu, target, True, package)
        outcome.attempts.append(last)
    _judge_final(scenario, ecu, outcome, old, version_of(target))
    return outcome


def version_of(update: Update) -> str:
    return update.version if isinstance(update, SoftwareRelease) else update.header.version


def _flash(ecu: EcuHandle, update: Update, resume: bool, package: DeltaPackage | None) -> FlashResult:
    if isinstance(update, SoftwareRelease):
        return ecu.flasher.flash_software(update.files, resume=resume, expect_version=update.version)
    return ecu.flasher.flash(update, resume=resume, delta=package)


def _attempt(ecu: EcuHandle, update: Update, resume: bool, package: DeltaPackage | None) -> FlashResult:
    try:
        return _flash(ecu, update, resume, package)
    except FlashError as failure:
        assert isinstance(failure.result, FlashResult)
        return failure.result


def _judge_after_fault(scenario: Scenario, ecu: EcuHandle, old: str | None, new: str) -> str | None:
    recovers(ecu, within=RECOVERY_BOUND)
    version = ecu.diagnostics.read_version()
    allowed = {"old": old, "new": new}
    names = [name for name, value in allowed.items() if name in scenario.expect.versions and value == version]
    if version is None and "bootloader" in scenario.expect.versions:
        names.append("bootloader")
    if not names:
        raise WrongVersion(f"after the {scenario.fault} the ECU runs {version_text(version)}; allowed: "
                           f"{', '.join(scenario.expect.versions)} (old: {version_text(old)}, new: {version_text(new)})",
                           ecu_state=ecu.diagnostics.describe())
    if scenario.expect.nvm_consistent and ecu.sim is not None:
        nvm_consistent(ecu.sim)
    return version


def _judge_final(scenario: Scenario, ecu: EcuHandle, outcome: ScenarioOutcome, old: str | None, new: str) -> None:
    last = outcome.attempts[-1]
    wanted = new if scenario.expect.outcome == "updated" else old
    if scenario.expect.outcome != "updated":
        _restart(ecu)  # a refused update must stay refused at the next start, not just in this session
    running = ecu.diagnostics.read_version()
    if running != wanted:
        defect = _final_violation(scenario, running, old, new)
        raise defect(f"expected outcome {scenario.expect.outcome} ({version_text(wanted)}), but the ECU runs "
                     f"{version_text(running)} after the last attempt ({last.failure or 'no error'})",
                     ecu_state=ecu.diagnostics.describe())
    limit = scenario.expect.max_resent_blocks
    if limit is not None and len(outcome.attempts) > 1:
        try:
            resent_at_most_one_block(outcome.attempts[-2], last, blocks=limit)
        except OutcomeViolation as violation:
            raise ResumeFailed(str(violation), ecu_state=ecu.diagnostics.describe()) from None


def _final_violation(scenario: Scenario, running: str | None, old: str | None,
                     new: str) -> type[OutcomeViolation]:
    """The kind of defect when the ECU does not end as expected: an application that is neither
    the old nor the new one; an update that did not complete after the interruption; or no
    return to the old version."""
    if running is not None and running not in (old, new):
        return WrongVersion
    return ResumeFailed if scenario.expect.outcome == "updated" else RollbackFailed


def _restart(ecu: EcuHandle) -> None:
    """ECUReset (hard), then wait until the ECU answers again (a silent ECU: bricked)."""
    ecu.link.discard_pending()
    try:
        ecu.uds.ecu_reset(1)
    except TimeoutException:
        pass  # whether it answers again is what recovers() judges
    recovers(ecu, within=RECOVERY_BOUND)
