"""The reference update master: installs a campaign on the bench's ECUs as one.

``run(manifest)``: accept the campaign (``bench.vehicle.acceptance``: signature, expiry, replay,
version set, running versions, every package's digest and content, the vehicle's preconditions;
a refusal flashes nothing), keep the software every target runs now, then flash the targets in
waves of their dependencies (``after:``), the ECUs of a wave on different buses at once, each
ECU activating its new software at the flasher's reset (the preconditions read again before each
wave and each ECU: broken, the manifest's ``on_violation`` says whether the campaign fails or is
suspended, nothing new started, until the vehicle is fine again within ``resume_within``; under
``suspend`` the rollback too waits up to ``resume_within`` for them before it touches an ECU, then
goes on whatever the vehicle does); confirm that every target runs its new version, and commit.
Any failure before the commit (an ECU refusing its package, a precondition broken between waves, a
version read back wrong) rolls every target back to the version it ran: an A/B ECU
(profile ``bootloader: ab``) that runs something else starts its previous bank again (routine
``switch_bank``, nothing downloaded), and is re-flashed only when it has no valid previous bank
to go back to; any other ECU is re-flashed with the software the master kept. The journal and
the report say which (``rollback``: ``bank_switch`` or ``reflash``). Once every target runs its
new version, the master journals the campaign ``committing`` (the point of no return: before it
no counter has moved, after it a committed ECU refuses its old software, so it is never rolled
back), then every target with a bootloader of the bench's own (``single_bank``, ``ab``) commits
it, each journaled once done (routine ``commit_bank``: its anti-rollback counter rises to the new
software's security version, an A/B ECU's previous bank is no longer a fallback). A commit that
fails is sent again, ``COMMIT_ATTEMPTS`` times in all, each once the ECU answers; still failing,
the campaign stays ``committing`` (the ECU ``uncommitted`` in the report) for ``recover()``.

Every step is journaled in the master's NVM (``bench.vehicle.journal``) before it is taken, so
a master that loses power comes back with ``recover()``: an installing campaign resumes (an ECU
that was being flashed resumes its download), a committing one commits the ECUs not yet
committed (``commit_bank`` is idempotent: an ECU committed whose answer was lost commits again)
and a rolling-back one goes on rolling back; it never starts a campaign over blind.
``probe(point)`` is called at each journaled point (``accepted``, ``installed:<ecu>``,
``confirmed``, ``committing:<ecu>`` before that ECU's commit, ``committed``, ``restored:<ecu>``),
when it suspends and resumes a campaign (``suspended``, ``resumed``), before it tries a failed
flash again (``retrying:<ecu>``, as many times as the manifest's ``install.retries``, each once the
ECU answers again), and after every block of a download (``downloading:<ecu>``): a test stops the
master there as a power loss would.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench.errors import FlashError, FlashRolledBack, UsageError
from bench.rig import Bench
from bench.vehicle.acceptance import CampaignRefused, check_campaign, load_package, parse_text, read_signed
from bench.vehicle.campaign_ecus import CampaignEcus
from bench.vehicle.journal import CampaignRecord, EcuProgress, MasterNvm, Phase, Rollback
from bench.vehicle.manifest import CampaignManifest, Package, install_order
from bench.vehicle.preconditions import VehicleConditions, VehicleStateUnknown, unmet
from bench.vehicle.report import CampaignReport, EcuOutcome, EcuStatus, Outcome

Probe = Callable[[str], None]
SUSPENDED_POLL = 0.05
"""Seconds between two reads of the vehicle's state while a campaign is suspended."""
RESTORE_WAIT = 30.0
"""Seconds the master waits for a silent ECU (its bus cut, its supply dipping) before rolling it
back or committing it."""
COMMIT_ATTEMPTS = 3
"""How many times the master sends an ECU ``commit_bank`` before it leaves the campaign ``committing``."""


class CampaignFailed(Exception):
    """The campaign cannot be completed: the master rolls it back (before ``committing`` only)."""


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class UpdateMaster(CampaignEcus):
    def __init__(self, rig: Bench, nvm: Path, trusted_key: Ed25519PublicKey, conditions: VehicleConditions, *,
                 clock: Callable[[], datetime.datetime] = _utc_now, probe: Probe = lambda point: None) -> None:
        self._rig = rig
        self._nvm = MasterNvm(nvm)
        self._key = trusted_key
        self._conditions = conditions
        self._clock = clock
        self._probe = probe
        self._lock = threading.Lock()

    @property
    def campaign(self) -> CampaignRecord | None:
        """The journal's campaign: the one running, or the last one finished."""
        return self._nvm.record.campaign

    def run(self, manifest_path: Path) -> CampaignReport:
        """Install the campaign; CampaignRefused (nothing flashed) when it is not to be installed."""
        record = self._nvm.record.campaign
        if record is not None and not record.finished:
            raise UsageError(f"campaign {record.campaign} is unfinished in {self._nvm.path}: recover() it first")
        manifest, text = read_signed(manifest_path, self._key)
        running = {name: self._version(name) for name in self._named_ecus(manifest)}
        check_campaign(manifest, now=self._clock(), last_sequence=self._nvm.record.last_sequence, running=running)
        self._verify_packages(manifest)
        problems = self._unmet(manifest)
        if problems:
            raise CampaignRefused("preconditions", "; ".join(problems))
        for name, target in manifest.targets.items():
            self._nvm.keep(name, target.from_.image)
        self._nvm.record.last_sequence = manifest.sequence
        self._nvm.record.campaign = CampaignRecord(
            manifest.campaign, manifest.sequence, str(manifest_path), text,
            ecus={name: "pending" for name in manifest.targets})
        self._save()
        self._probe("accepted")
        return self._install(manifest, self._nvm.record.campaign)

    def recover(self) -> CampaignReport | None:
        """At start-up: finish the campaign the journal holds unfinished (resume it, go on
        committing it, or go on rolling it back); None when there is none."""
        record = self._nvm.record.campaign
        if record is None or record.finished:
            return None
        manifest = parse_text(record.manifest_text, Path(record.manifest_path))
        if record.phase == "rolling_back":
            return self._roll_back(manifest, record)
        if record.phase == "committing":
            return self._commit(manifest, record)
        return self._install(manifest, record)

    # -- installing ----------------------------------------------------------------------------

    def _install(self, manifest: CampaignManifest, record: CampaignRecord) -> CampaignReport:
        try:
            for groups in self.plan(manifest):
                self._await_conditions(manifest)
                self._side_by_side(groups, manifest, record)
            self._confirm(manifest)
            self._probe("confirmed")
        except (CampaignFailed, CampaignRefused, FlashError, UsageError) as exc:
            record.failure = str(exc)
            return self._roll_back(manifest, record)
        self._set(record, phase="committing")
        return self._commit(manifest, record)

    def _verify_packages(self, manifest: CampaignManifest) -> None:
        """Every package of the campaign, new and kept, is the one the manifest names, before any is flashed."""
        for name, target in manifest.targets.items():
            load_package(name, target.to, bench_image=self._takes_bench_images(name))
            load_package(name, target.from_, bench_image=self._takes_bench_images(name))

    def _unmet(self, manifest: CampaignManifest) -> list[str]:
        try:
            state = self._conditions.read()
        except VehicleStateUnknown as unknown:
            return [str(unknown)]
        return unmet(manifest.preconditions, manifest.energy, state)

    def _await_conditions(self, manifest: CampaignManifest) -> None:
        """Before anything new starts: the preconditions hold. Broken, the campaign fails (``abort``)
        or waits for the vehicle to be fine again (``suspend``), failing past ``resume_within``."""
        problems = self._unmet(manifest)
        if not problems:
            return
        policy = manifest.preconditions
        if policy.on_violation == "abort":
            raise CampaignFailed("preconditions broken: " + "; ".join(problems))
        self._probe("suspended")
        problems = self._unmet_after(manifest, policy.resume_within)
        if problems:
            raise CampaignFailed(f"preconditions broken for more than {policy.resume_within:g} s: "
                                 + "; ".join(problems))
        self._probe("resumed")

    def _unmet_after(self, manifest: CampaignManifest, seconds: float) -> list[str]:
        """The preconditions broken once they held again or ``seconds`` passed, whichever is first."""
        deadline = time.monotonic() + seconds
        problems = self._unmet(manifest)
        while problems and time.monotonic() < deadline:
            time.sleep(SUSPENDED_POLL)
            problems = self._unmet(manifest)
        return problems

    def _waves(self, manifest: CampaignManifest) -> list[list[str]]:
        return install_order(manifest)

    def _confirm(self, manifest: CampaignManifest) -> None:
        """Every target runs its new version (it activated and confirmed it)."""
        for name, target in manifest.targets.items():
            running = self._version(name)
            if running != target.to.version:
                raise CampaignFailed(f"{name} runs {running or 'no application'} after its update, "
                                     f"not {target.to.version}")

    def plan(self, manifest: CampaignManifest) -> list[list[list[str]]]:
        """How the campaign is installed: waves one after the other (dependencies), each wave's
        groups at once, each group's ECUs one after the other."""
        return [self._bus_groups(manifest, wave) for wave in self._waves(manifest)]

    def _bus_groups(self, manifest: CampaignManifest, wave: list[str]) -> list[list[str]]:
        """The wave's ECUs in groups flashed one after the other: one group per bus, or one in all."""
        if manifest.install.parallel == "none":
            return [wave]
        groups: dict[str, list[str]] = {}
        for name in wave:
            groups.setdefault(self._rig.config.ecus[name].bus, []).append(name)
        return list(groups.values())

    def _side_by_side(self, groups: list[list[str]], manifest: CampaignManifest, record: CampaignRecord) -> None:
        """Each group in a thread of its own; once all are done, the first error raised again."""
        def flash_group(names: list[str]) -> None:
            for index, name in enumerate(names):
                if record.ecus[name] != "installed":
                    if index:  # the wave's first ones were checked before it began
                        self._await_conditions(manifest)
                    self._update(name, manifest, record)

        for name in (name for group in groups for name in group):
            self._rig.ecu(name).flasher  # noqa: B018 - handles and links opened here, in one thread
        with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="campaign") as pool:
            futures = [pool.submit(flash_group, group) for group in groups]
        for future in futures:
            future.result()

    def _update(self, name: str, manifest: CampaignManifest, record: CampaignRecord) -> None:
        resume = record.ecus[name] == "flashing"  # the master stopped in this ECU's download
        self._set(record, ecu=(name, "flashing"))
        package = load_package(name, manifest.targets[name].to, bench_image=self._takes_bench_images(name))
        policy = manifest.install
        for attempt in range(policy.retries + 1):
            try:
                self._flash(name, package, manifest.targets[name].to.version, resume=resume)
                break
            except FlashRolledBack:
                raise  # the ECU dropped the new software itself: another download would not change that
            except FlashError as failure:
                if attempt == policy.retries:
                    raise
                self._probe(f"retrying:{name}")
                if not self._answers(name, policy.retry_within):
                    raise CampaignFailed(f"{name} did not answer within {policy.retry_within:g} s after its flash "
                                         f"failed ({failure})") from failure
                resume = True
        self._set(record, ecu=(name, "installed"))
        self._probe(f"installed:{name}")

    # -- committing: from here never rolled back -------------------------------------------------

    def _commit(self, manifest: CampaignManifest, record: CampaignRecord) -> CampaignReport:
        """Every target whose bootloader has a commit routine makes its new version final, those the
        journal does not hold committed yet; committed once all are, else left ``committing``."""
        for name in manifest.targets:
            if record.ecus[name] == "committed" or not self._commits(name):
                continue
            self._probe(f"committing:{name}")
            failure = self._commit_ecu(name)
            if failure:
                return self._commit_failed(manifest, record, f"{name} not committed: {failure}")
            self._set(record, ecu=(name, "committed"))
        record.failure = ""  # a commit that failed before the last start: done now
        self._set(record, phase="committed")
        self._probe("committed")
        return self._report(manifest, record)

    def _commit_ecu(self, name: str) -> str:
        """Nothing ("") once ``name`` has committed its update, else why its last attempt failed.
        Each attempt waits for the ECU to answer (a bus cut, a restart) and opens the session and
        security access the routine needs (``bench.flash.bank_switch``)."""
        failure = ""
        for attempt in range(COMMIT_ATTEMPTS):
            if not self._answers(name, RESTORE_WAIT):
                failure = f"attempt {attempt + 1} of {COMMIT_ATTEMPTS}: no answer within {RESTORE_WAIT:.0f} s"
                continue
            try:
                self._rig.ecu(name).flasher.commit_update()
                return ""
            except FlashError as exc:
                failure = f"attempt {attempt + 1} of {COMMIT_ATTEMPTS}: {exc}"
        return failure

    def _commit_failed(self, manifest: CampaignManifest, record: CampaignRecord, failure: str) -> CampaignReport:
        """An ECU did not commit: the campaign stays ``committing`` (journaled why), for ``recover()``."""
        record.failure = failure
        self._save()
        return self._report(manifest, record)

    # -- rolling back --------------------------------------------------------------------------

    def _roll_back(self, manifest: CampaignManifest, record: CampaignRecord) -> CampaignReport:
        """Every target back to its campaign's starting version, the last installed first."""
        self._set(record, phase="rolling_back")
        failed = False
        policy = manifest.preconditions
        vehicle_wait = time.monotonic() + (policy.resume_within if policy.on_violation == "suspend" else 0.0)
        for name in reversed([name for wave in install_order(manifest) for name in wave]):
            source = manifest.targets[name].from_
            if record.ecus[name] in ("restored", "rollback_failed"):
                failed |= record.ecus[name] == "rollback_failed"
                continue
            self._answers(name, RESTORE_WAIT)  # an ECU cut off for a while is waited for, not given up
            if self._version(name) == source.version:
                if record.ecus[name] != "pending":
                    self._set(record, ecu=(name, "restored"))
                continue
            self._unmet_after(manifest, vehicle_wait - time.monotonic())  # suspend: touched once the vehicle allows
            try:
                self._restore(name, source, record)
            except (CampaignRefused, FlashError, UsageError) as exc:
                failed = True
                record.failure += f"; {name} not restored: {exc}"
                self._set(record, ecu=(name, "rollback_failed"))
                continue
            self._set(record, ecu=(name, "restored"))
            self._probe(f"restored:{name}")
        self._set(record, phase="rollback_failed" if failed else "rolled_back")
        return self._report(manifest, record)

    def _restore(self, name: str, source: Package, record: CampaignRecord) -> None:
        """``name`` back to ``source``: by starting its previous bank again where it has one (A/B),
        else by re-flashing the software kept (resuming a re-flash the master was in)."""
        resume = record.ecus[name] == "restoring" and record.rollbacks.get(name) == "reflash"
        if record.rollbacks.get(name) != "reflash" and self._switches_banks(name):
            self._set(record, ecu=(name, "restoring"), rollback=(name, "bank_switch"))
            try:
                self._rig.ecu(name).flasher.switch_back(source.version)
                return
            except FlashError:
                pass  # no valid previous bank (or it is committed): the kept software goes back instead
        self._set(record, ecu=(name, "restoring"), rollback=(name, "reflash"))
        kept = source.model_copy(update={"image": self._nvm.kept(name, source.image)})
        package = load_package(name, kept, bench_image=self._takes_bench_images(name))
        self._flash(name, package, source.version, resume=resume)

    # -- journal and report --------------------------------------------------------------------

    def _set(self, record: CampaignRecord, *, phase: Phase | None = None,
             ecu: tuple[str, EcuProgress] | None = None, rollback: tuple[str, Rollback] | None = None) -> None:
        with self._lock:
            if phase is not None:
                record.phase = phase
            if ecu is not None:
                record.ecus[ecu[0]] = ecu[1]
            if rollback is not None:
                record.rollbacks[rollback[0]] = rollback[1]
            self._save()

    def _save(self) -> None:
        self._nvm.save()

    def _report(self, manifest: CampaignManifest, record: CampaignRecord) -> CampaignReport:
        """What the finished (or still committing) campaign did, with the versions the ECUs report now."""
        ecus = {name: EcuStatus(target.from_.version, target.to.version, self._version(name),
                                "uncommitted" if record.phase == "committing" and record.ecus[name] == "installed"
                                and self._commits(name) else _ECU_OUTCOMES[record.ecus[name]],
                                record.failure if record.ecus[name] == "rollback_failed" else "",
                                record.rollbacks.get(name, "") if record.ecus[name] != "installed" else "")
                for name, target in manifest.targets.items()}
        return CampaignReport(record.campaign, record.sequence, _OUTCOMES[record.phase], record.failure, ecus)


_OUTCOMES: dict[Phase, Outcome] = {"committed": "committed", "rolled_back": "rolled_back",
                                   "rollback_failed": "rollback_failed", "committing": "committing"}
"""A campaign's outcome, by its last phase (``committing``: an ECU would not commit, ``recover()`` goes on)."""
_ECU_OUTCOMES: dict[EcuProgress, EcuOutcome] = {"installed": "updated", "committed": "updated", "restored": "restored",
                                                "pending": "untouched", "rollback_failed": "rollback_failed"}
"""What happened to an ECU, by its progress when the campaign finished."""
