"""What the virtual ECU's bootloader decides at every power-on and reset.

Single bank: a valid, verified application starts; an invalid or half-written one leaves the
ECU in the bootloader, which still accepts reprogramming (never bricked). An application that
fails its self test is restarted by its watchdog; after ``trial_boots`` failed starts the
bootloader stays resident.

A/B: a newly verified bank is started on trial. Each start is counted in EEPROM *before* the
application runs, so a power cut during the trial counts as a failed start. The application
confirms a healthy start; after ``trial_boots`` unconfirmed starts the bootloader drops the new
bank and starts the previous one again (rollback). The confirmed update keeps the previous
bank as its fallback: until the tester commits the update (routine ``commit_bank``), it may
switch back to it (routine ``switch_bank``, then a reset), as an update master does to roll a
campaign back without a download. A fallback bank written again, or below the anti-rollback
counter, is no longer one.

Anti-rollback: images are checked against the committed counter, and the counter moves only
when an update is committed, so that an update master can still bring back the previous
software of a campaign it rolls back. It rises to the running software's security version at
the routine ``commit_bank`` (single bank and A/B) and, on A/B, when a download or a delta job
starts writing the fallback bank: the previous software is gone then, so the update is final
(and the old image downloaded there fails its check). A single-bank bootloader keeps the
security version of the installed, uncommitted software in its bank record: a re-flash of the
previous software is accepted until ``commit_bank``, and a tester that never commits (the
standalone flasher) never moves the counter.

Delta: a checked delta package armed in EEPROM (``bench.sim.staging``) is applied at the next
start, before anything else is decided, and at every start after until it is done; a power
loss in the middle only delays it (``bench.sim.patching``). The patched bank then goes the way
of a downloaded one: verified, and started on trial (A/B) or directly (single bank).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench.config.models import EcuProfile
from bench.dids import BootMode, BootState
from bench.errors import ConfigError
from bench.image import (HEADER_SIZE, AppDescriptor, DeltaHeader, DeltaPackage, ImageFormatError, ImageHeader,
                         SignatureError, verify_delta, verify_image)
from bench.routine_status import CHECK_DIGEST, CHECK_FORMAT, CHECK_ROLLBACK, CHECK_SIGNATURE
from bench.sim.nvm import FlashMemory
from bench.sim.patching import PatchFailed, apply_in_steps
from bench.sim.record import RecordStore

Probe = Callable[[str, int], None]


class SwitchRefused(Exception):
    """The A/B bootloader has no previous software to switch back to (why in the message)."""


class VerificationFailed(Exception):
    """The image in a bank is not whole, not ours, or not allowed (reason in the message)."""

    def __init__(self, reason: str, code: int) -> None:
        self.code = code
        super().__init__(reason)




@dataclass(frozen=True)
class RunningSoftware:
    mode: BootMode
    bank: int
    state: BootState
    version: str | None


class BankLayout:
    """Logical download region → physical bank offsets in the flash; the delta staging area after
    the banks (when the profile takes delta packages)."""

    def __init__(self, profile: EcuProfile, sector_size: int) -> None:
        self.kind = profile.bootloader
        self.bank_count = 2 if self.kind == "ab" else 1
        self.bank_size = -(-profile.memory.size // sector_size) * sector_size
        self.staging_offset = self.bank_size * self.bank_count
        self.staging_size = 0
        if profile.delta is not None:
            if profile.delta.segment_size % sector_size:
                raise ConfigError(f"delta.segment_size {profile.delta.segment_size:#x} is not a multiple of the "
                                  f"virtual ECU's sector_size {sector_size:#x}", field="delta.segment_size")
            self.staging_size = -(-profile.delta.size // sector_size) * sector_size
        self.flash_size = self.staging_offset + self.staging_size

    def offset(self, bank: int) -> int:
        return bank * self.bank_size


class BootManager:
    def __init__(self, profile: EcuProfile, layout: BankLayout, flash: FlashMemory, store: RecordStore,
                 trusted_key: Ed25519PublicKey, probe: Probe,
                 log: Callable[[str], None] = lambda line: None) -> None:
        self._profile = profile
        self._layout = layout
        self._flash = flash
        self._store = store
        self._trusted_key = trusted_key
        self._probe = probe
        self._log = log
        self.running = RunningSoftware(BootMode.BOOTLOADER, store.record.active_bank, BootState.BOOTLOADER, None)
        self.hung = False
        """The CPU is stuck (a jump into garbage, an endless watchdog-reset loop): nothing answers
        until the next power-on. The reference bootloader never gets here; see bench.sim.mutants."""

    @property
    def record(self):  # noqa: ANN201 - the store's live record
        return self._store.record

    @property
    def trusted_key(self) -> Ed25519PublicKey:
        return self._trusted_key

    def target_bank(self) -> int:
        """Where a download goes: the only bank, or the one not running (A/B)."""
        return 0 if self._layout.bank_count == 1 else 1 - self.record.active_bank

    def read_image(self, bank: int) -> tuple[ImageHeader, bytes]:
        """The header and payload in ``bank``; VerificationFailed when there is no whole header."""
        base = self._layout.offset(bank)
        try:
            header = ImageHeader.parse(self._flash.read(base, HEADER_SIZE))
        except ImageFormatError as exc:
            raise VerificationFailed(f"no valid image header: {exc}", CHECK_FORMAT) from exc
        if header.payload_length > self._layout.bank_size - HEADER_SIZE:
            raise VerificationFailed("image longer than the bank", CHECK_FORMAT)
        return header, self._flash.read(base + HEADER_SIZE, header.payload_length)

    def image_bytes(self, bank: int) -> bytes:
        """The image in ``bank`` as stored, header and payload (what a delta package patches)."""
        header, payload = self.read_image(bank)
        return header.pack() + payload

    def installed_digest(self, bank: int) -> bytes | None:
        """SHA-256 of the image in ``bank`` when the bank is valid (the base a delta package names)."""
        if not self.record.banks[bank].valid:
            return None
        return hashlib.sha256(self.image_bytes(bank)).digest()

    def check_integrity(self, bank: int) -> None:
        """CheckMemory: the payload is what the header describes (digest), nothing more."""
        header, payload = self.read_image(bank)
        if hashlib.sha256(payload).digest() != header.payload_sha256:
            raise VerificationFailed("payload digest mismatch", CHECK_DIGEST)

    def verify(self, bank: int, *, check_rollback: bool = True) -> tuple[ImageHeader, AppDescriptor]:
        """Secure boot / CheckProgrammingDependencies: digest, signature, anti-rollback."""
        header, payload = self.read_image(bank)
        try:
            verify_image(header, payload, self._trusted_key)
        except SignatureError as exc:
            code = CHECK_DIGEST if str(exc).startswith("payload") else CHECK_SIGNATURE
            raise VerificationFailed(str(exc), code) from exc
        if check_rollback and header.security_version < self.record.anti_rollback:
            raise VerificationFailed(
                f"security version {header.security_version} below anti-rollback counter "
                f"{self.record.anti_rollback}", CHECK_ROLLBACK)
        try:
            app = AppDescriptor.parse(payload[:AppDescriptor.SIZE])
        except ImageFormatError as exc:
            raise VerificationFailed(f"no application descriptor: {exc}", CHECK_FORMAT) from exc
        return header, app

    def start(self) -> RunningSoftware:
        """Power-on or reset: choose what runs. Every EEPROM change is saved before it matters."""
        rec = self.record
        self._probe("boot", rec.boot_attempts)
        if rec.patch_type:
            self._apply_delta()
        for _ in range(self._profile.trial_boots + 2):
            if rec.pending_bank is not None:
                if self._start_trial():
                    return self.running
                continue
            bank = rec.active_bank
            if not rec.banks[bank].valid or rec.boot_attempts >= self._profile.trial_boots:
                break  # nothing (healthy) to start: the bootloader stays resident
            try:
                header, app = self.verify(bank, check_rollback=False)
            except VerificationFailed as exc:
                self._log(f"BOOT: bank {'AB'[bank]} fails secure boot: {exc}")
                rec.banks[bank].valid = False
                self._store.save()
                break
            if app.self_test_passes:
                if rec.boot_attempts:
                    rec.boot_attempts = 0
                    self._store.save()
                state = BootState.CONFIRMED if self._layout.bank_count == 2 else BootState.APPLICATION
                self.running = RunningSoftware(BootMode.APPLICATION, bank, state, header.version)
                self._log(f"BOOT: starting application {header.version} from bank {'AB'[bank]}")
                return self.running
            self._log(f"APP {header.version}: self test failed, watchdog reset")
            rec.boot_attempts += 1  # watchdog reset of a failing application
            self._store.save()
            if rec.boot_attempts >= self._profile.trial_boots:
                break
        return self.enter_bootloader()

    def _start_trial(self) -> bool:
        """One start of the pending bank; False when it failed or was rolled back."""
        rec = self.record
        bank = rec.pending_bank
        assert bank is not None
        rec.boot_attempts += 1
        self._store.save()
        if self._trial_starts_exhausted():
            self._log(f"BOOT: bank {'AB'[bank]} not confirmed after {self._profile.trial_boots} starts: rollback")
            self._roll_back(bank)
            return False
        try:
            header, app = self.verify(bank)
        except VerificationFailed as exc:
            self._log(f"BOOT: bank {'AB'[bank]} fails secure boot: {exc}: rollback")
            self._roll_back(bank)
            return False
        self._log(f"BOOT: trial start {rec.boot_attempts}/{self._profile.trial_boots} of {header.version} "
                  f"from bank {'AB'[bank]}")
        self.running = RunningSoftware(BootMode.APPLICATION, bank, BootState.TRIAL_BOOT, header.version)
        if not app.self_test_passes:
            self._log(f"APP {header.version}: self test failed, watchdog reset")
            return False
        self._confirm(bank, header)
        return True

    def _trial_starts_exhausted(self) -> bool:
        """The decision to roll back: the pending bank has had its ``trial_boots`` starts (counted
        in EEPROM before each one) without being confirmed."""
        return self.record.boot_attempts > self._profile.trial_boots

    def _apply_delta(self) -> None:
        """Run the armed delta job to its end (from the step a power loss stopped it at), then
        mark the patched bank valid, or drop the job when the package or the result is bad."""
        rec = self.record
        bank, base = rec.patch_bank, rec.active_bank
        try:
            package = self._staged_package()
        except VerificationFailed as exc:
            self._log(f"BOOT: delta job dropped, staged package unusable: {exc}")
            rec.clear_patch()
            self._store.save()
            return
        if self.overwriting(bank) or rec.banks[bank].valid:
            rec.banks[bank].valid = False  # from here the bank holds neither image until it verifies
            if rec.pending_bank == bank:
                rec.pending_bank = None
            self._store.save()
        self._log(f"BOOT: applying delta {package.describe()} into bank {'AB'[bank]} from step {rec.patch_steps_done}")

        def step_done(steps: int) -> None:
            rec.patch_steps_done = steps
            self._store.save()

        try:
            apply_in_steps(self._flash, package, base=self._layout.offset(base), target=self._layout.offset(bank),
                           memory_size=self._layout.bank_size, steps_done=rec.patch_steps_done,
                           probe=self._probe, step_done=step_done)
            header, _app = self.verify(bank)
        except (PatchFailed, VerificationFailed) as exc:
            self._log(f"BOOT: delta into bank {'AB'[bank]} failed: {exc}")
            rec.clear_patch()
            self._store.save()
            return
        rec.clear_patch()
        self.mark_valid(bank, header)
        self._store.save()
        self._log(f"BOOT: delta applied, bank {'AB'[bank]} holds {header.version}")

    def read_staged(self) -> DeltaPackage:
        """The delta package in the staging area, as long as its header says; VerificationFailed
        when there is no package header there."""
        start = self._layout.staging_offset
        try:
            header = DeltaHeader.parse(self._flash.read(start, HEADER_SIZE))
        except ImageFormatError as exc:
            raise VerificationFailed(f"no delta package header: {exc}", CHECK_FORMAT) from exc
        if header.patch_length > self._layout.staging_size - HEADER_SIZE:
            raise VerificationFailed(f"patch of {header.patch_length} B longer than the staging area", CHECK_FORMAT)
        return DeltaPackage(header, self._flash.read(start + HEADER_SIZE, header.patch_length))

    def _staged_package(self) -> DeltaPackage:
        """The package the job was armed with, still whole in the staging area."""
        package = self.read_staged()
        if package.header_digest.hex() != self.record.patch_package:
            raise VerificationFailed("the staging area holds another package than the armed one", CHECK_FORMAT)
        try:
            verify_delta(package.header, package.patch, self._trusted_key)
        except SignatureError as exc:
            raise VerificationFailed(str(exc), CHECK_SIGNATURE) from exc
        return package

    def mark_valid(self, bank: int, header: ImageHeader) -> None:
        """A verified image is in ``bank``: valid, and pending its trial boot on A/B (the caller
        saves). Its security version is recorded with it; the counter waits for the commit."""
        rec = self.record
        rec.banks[bank].valid = True
        rec.banks[bank].version = header.version
        rec.banks[bank].security_version = header.security_version
        if self._layout.bank_count == 2:
            rec.pending_bank = bank
        rec.boot_attempts = 0

    def overwriting(self, bank: int) -> bool:
        """``bank`` is about to be written (erase or delta job). On A/B, when it holds the previous
        software the running update is final from here: it is committed in the record (True). The
        caller saves it with the bank made invalid, in one EEPROM write before the bank is touched:
        the write is atomic (``bench.sim.nvm.Eeprom``), so a power loss leaves the old record with the
        fallback intact, or the new one; a save of the commit alone first would add nothing."""
        if self._layout.bank_count != 2 or self.record.fallback_bank != bank:
            return False
        self._commit_running()
        self._log(f"BOOT: bank {'AB'[bank]} written again: update committed, anti-rollback counter "
                  f"{self.record.anti_rollback}")
        return True

    def _confirm(self, bank: int, header: ImageHeader) -> None:
        """The application confirms its healthy start: the bank becomes the active one."""
        self._probe("confirm", bank)
        rec = self.record
        previous = rec.active_bank
        rec.fallback_bank = previous if previous != bank and rec.banks[previous].valid else None
        rec.active_bank = bank
        rec.pending_bank = None
        rec.boot_attempts = 0
        self._store.save()
        self.running = RunningSoftware(BootMode.APPLICATION, bank, BootState.CONFIRMED, header.version)
        self._log(f"APP {header.version}: confirmed bank {'AB'[bank]}")

    def switch_back(self) -> int:
        """A/B, routine ``switch_bank``: the fallback bank becomes the active one, started at the
        next reset, and the bank it replaces is dropped (one EEPROM write). SwitchRefused when
        there is no fallback (none was replaced, or the update was committed), when it no longer
        holds valid software, when a delta job is armed, or when that software is below the
        anti-rollback counter."""
        rec = self.record
        fallback = rec.fallback_bank
        if self._layout.bank_count != 2:
            raise SwitchRefused("a single-bank bootloader has no other bank")
        if fallback is None:
            raise SwitchRefused("no previous software kept: the running software replaced none, or it was committed")
        if not rec.banks[fallback].valid:
            raise SwitchRefused(f"bank {'AB'[fallback]} no longer holds valid software")
        if rec.patch_type:
            raise SwitchRefused(f"a delta job armed for the next start writes bank {'AB'[rec.patch_bank]}")
        try:
            self.verify(fallback)
        except VerificationFailed as exc:
            raise SwitchRefused(f"bank {'AB'[fallback]} fails its check: {exc}") from exc
        rec.banks[rec.active_bank].valid = False
        rec.active_bank, rec.fallback_bank, rec.pending_bank, rec.boot_attempts = fallback, None, None, 0
        self._store.save()
        self._log(f"BOOT: switched back to bank {'AB'[fallback]} ({rec.banks[fallback].version}) for the next start")
        return fallback

    def commit(self) -> None:
        """Routine ``commit_bank``: the installed update is final. The anti-rollback counter rises
        to its security version; on A/B the fallback is given up. Idempotent."""
        if self._commit_running():
            self._store.save()
            self._log(f"BOOT: update committed, anti-rollback counter {self.record.anti_rollback}")

    def _commit_running(self) -> bool:
        """The commit in the record (the caller saves): True when it changed something."""
        rec = self.record
        active = rec.banks[rec.active_bank]
        counter = max(rec.anti_rollback, active.security_version) if active.valid else rec.anti_rollback
        if (counter, rec.fallback_bank) == (rec.anti_rollback, None):
            return False
        rec.anti_rollback, rec.fallback_bank = counter, None
        return True

    def _roll_back(self, bank: int) -> None:
        rec = self.record
        rec.banks[bank].valid = False
        rec.pending_bank = None
        rec.boot_attempts = 0
        self._store.save()

    def enter_bootloader(self) -> RunningSoftware:
        self._log("BOOT: bootloader resident, waiting for a tester")
        self.running = RunningSoftware(BootMode.BOOTLOADER, self.record.active_bank, BootState.BOOTLOADER, None)
        return self.running

    def installed_version(self) -> str | None:
        """The version the bootloader would start (active bank), if that bank is valid."""
        bank = self.record.banks[self.record.active_bank]
        return bank.version if bank.valid else None
