"""Mutant bootloaders: the reference virtual ECU with one deliberate, realistic defect each.

A test campaign is only as good as the defects it catches. Each mutant is the reference
bootloader (``bench.sim.boot.BootManager``, ``bench.sim.download.DownloadManager``) with a
method overridden the way real flash bootloaders get it wrong; where the reference has a
decision method for it (``BootManager._trial_starts_exhausted``), the mutant overrides only that
decision, so a change to the reference reaches the mutant too. ``virtual: {mutant: <name>}``
in a bench file builds an ECU with it; ``tests/test_mutants.py`` proves that the shipped
oracles and OTA suites catch every mutant and pass the reference ECU with the same steps.

A mutant that leaves the ECU stuck (a jump into garbage, an endless watchdog-reset loop)
sets ``BootManager.hung``: the simulator then answers nothing until the next power-on,
without spinning.
"""

from __future__ import annotations

from bench.dids import BootMode, BootState
from bench.errors import ConfigError
from bench.image import AppDescriptor, ImageFormatError, ImageHeader
from bench.routine_status import CHECK_FORMAT, CHECK_OK
from bench.sim.boot import BootManager, RunningSoftware, VerificationFailed
from bench.sim.dialect import Mutant, dialect_of
from bench.sim.dialects.his.mutants import HIS_MUTANTS
from bench.sim.download import DownloadManager
from bench.sim.record import RecordStore

BOTH = frozenset({"single_bank", "ab"})


def _descriptor(bank: int, payload: bytes) -> AppDescriptor:
    try:
        return AppDescriptor.parse(payload[:AppDescriptor.SIZE])
    except ImageFormatError as exc:
        raise VerificationFailed(f"bank {'AB'[bank]}: no application descriptor: {exc}", CHECK_FORMAT) from exc


# -- switch_before_verify -----------------------------------------------------------------------

class _InstallTrustingBoot(BootManager):
    """A bank whose valid flag is set was verified when it was installed, so start-up only checks
    that it is whole (digest) — a common boot-time shortcut, sound only if the flag is."""

    def verify(self, bank: int, *, check_rollback: bool = True) -> tuple[ImageHeader, AppDescriptor]:
        if not self.record.banks[bank].valid:  # installing: the full check
            return super().verify(bank, check_rollback=check_rollback)
        self.check_integrity(bank)
        header, payload = self.read_image(bank)
        return header, _descriptor(bank, payload)


class _SwitchBeforeVerifyDownload(DownloadManager):
    def check_programming_dependencies(self) -> int:
        """Switches to the new bank (valid, and pending on A/B) before verifying it, and a failed
        verification is reported to the tester but never undone: what is left in EEPROM is the
        switch. (Modelled as the reference check, then the switch saved whatever it found.)"""
        status = super().check_programming_dependencies()
        if status == CHECK_OK:
            return status
        bank = self._boot.target_bank()
        try:
            header, _payload = self._boot.read_image(bank)
        except VerificationFailed:
            return status  # not even a header: the switch would have had nothing to record
        self._accept(bank, header)
        return status


# -- no_invalidate_on_erase ---------------------------------------------------------------------

class _EraseKeepsValidFlagDownload(DownloadManager):
    def erase(self, address: int, size: int) -> None:
        """Erases the bank but leaves its valid flag set: a cut download looks like an application."""
        rel = self._region(address, size)
        bank = self._boot.target_bank()
        rec = self._store.record
        if rec.pending_bank == bank:
            rec.pending_bank = None
        rec.clear_journal()  # the reference clears rec.banks[bank].valid here too
        self._store.save()
        self._active = None
        first, length = self._sector_span(rel, size)
        self._flash.erase(self._layout.offset(bank) + first, length)


class _NoSecureBoot(BootManager):
    def start(self) -> RunningSoftware:
        """Jumps into the active bank whenever its valid flag is set, without verifying it."""
        rec = self.record
        bank = rec.active_bank
        if not rec.banks[bank].valid:
            return super().start()  # nothing flagged: the bootloader stays resident
        try:
            header, payload = self.read_image(bank)
            app = _descriptor(bank, payload)
        except VerificationFailed as exc:
            self._probe("boot", rec.boot_attempts)
            self._log(f"BOOT: jumping into bank {'AB'[bank]} unchecked: {exc}: CPU stuck")
            self.hung = True
            self.running = RunningSoftware(BootMode.APPLICATION, bank, BootState.APPLICATION, None)
            return self.running
        if not app.self_test_passes:
            return super().start()  # the watchdog-reset path of the reference
        self._probe("boot", rec.boot_attempts)
        state = BootState.CONFIRMED if self._layout.bank_count == 2 else BootState.APPLICATION
        self.running = RunningSoftware(BootMode.APPLICATION, bank, state, header.version)
        self._log(f"BOOT: starting application {header.version} from bank {'AB'[bank]} (no secure boot)")
        return self.running


# -- forget_journal -----------------------------------------------------------------------------

class _RamOnlyStore:
    """The record store as the journal code of ``_ForgetJournalDownload`` sees it: it changes
    the record in RAM and never writes it to EEPROM."""

    def __init__(self, store: RecordStore) -> None:
        self.record = store.record

    def save(self) -> None:
        pass


class _ForgetJournalDownload(DownloadManager):
    def _commit(self, dl) -> None:  # dl: download.py's _Download
        """Keeps the download journal in RAM only: the power cut that makes it matter erases it."""
        store, self._store = self._store, _RamOnlyStore(self._store)  # type: ignore[assignment]
        try:
            super()._commit(dl)
        finally:
            self._store = store


# -- no_trial_rollback --------------------------------------------------------------------------

class _NoTrialRollbackBoot(BootManager):
    def _trial_starts_exhausted(self) -> bool:
        """Counts every trial start but never compares the count with ``trial_boots``: an image
        that fails its self test is started again forever and the previous bank never returns.
        A real ECU resets and retries forever; past ``trial_boots`` the simulator hangs instead
        of spinning (silent until the next power-on)."""
        if self.record.boot_attempts > self._profile.trial_boots and not self.hung:
            self._log("BOOT: watchdog reset loop: the ECU never answers again")
            self.hung = True
        return False


# -- ignore_anti_rollback -----------------------------------------------------------------------

class _IgnoreAntiRollbackBoot(BootManager):
    def verify(self, bank: int, *, check_rollback: bool = True) -> tuple[ImageHeader, AppDescriptor]:
        """Digest and signature are checked; the security version is never compared with the counter."""
        return super().verify(bank, check_rollback=False)


# -- early_anti_rollback ------------------------------------------------------------------------

class _EarlyAntiRollbackBoot(BootManager):
    """Raises the anti-rollback counter as soon as the new software is in place, not when the update
    is committed: single bank when CheckProgrammingDependencies accepts the image, A/B when the
    application confirms its start. The previous software can then no longer come back."""

    def mark_valid(self, bank: int, header: ImageHeader) -> None:
        super().mark_valid(bank, header)
        if self._layout.bank_count == 1:  # saved by the caller
            self.record.anti_rollback = max(self.record.anti_rollback, header.security_version)

    def _confirm(self, bank: int, header: ImageHeader) -> None:
        self.record.anti_rollback = max(self.record.anti_rollback, header.security_version)  # saved by the confirmation
        super()._confirm(bank, header)


# -- torn_page_ok -------------------------------------------------------------------------------

class _CommitBeforeProgramDownload(DownloadManager):
    def transfer_data(self, counter: int, data: bytes) -> None:
        """Commits each block to the journal BEFORE programming it: a block torn by a power cut
        counts as programmed, and the resume starts after it."""
        dl = self._active
        if dl is not None and counter == dl.expected_counter and counter != dl.last_accepted and data \
                and len(data) <= self.max_data_per_block and dl.offset + len(data) <= dl.end:
            self._store.record.journal_committed = dl.offset + len(data)
            self._store.save()
        super().transfer_data(counter, data)


MUTANTS: dict[str, Mutant] = {m.name: m for m in (
    Mutant("switch_before_verify",
           "CheckProgrammingDependencies marks the new bank valid before verifying it and does not undo "
           "that when the verification fails; start-up trusts the flag, so a foreign or tampered image runs",
           BOTH, boot=_InstallTrustingBoot, download=_SwitchBeforeVerifyDownload),
    Mutant("no_invalidate_on_erase",
           "erasing does not clear the bank's valid flag and start-up skips secure boot, so after a power cut "
           "the bootloader jumps into a half-written application (or into erased flash and hangs)",
           frozenset({"single_bank"}), boot=_NoSecureBoot, download=_EraseKeepsValidFlagDownload),
    Mutant("forget_journal",
           "the download journal is kept in RAM and never written to EEPROM, so every resume after a power "
           "cut starts over",
           BOTH, boot=BootManager, download=_ForgetJournalDownload),
    Mutant("no_trial_rollback",
           "the trial-boot counter is never checked: an image failing its self test is restarted forever "
           "(watchdog reset loop) and the previous bank is never started again",
           frozenset({"ab"}), boot=_NoTrialRollbackBoot, download=DownloadManager),
    Mutant("ignore_anti_rollback",
           "the security version is never compared with the anti-rollback counter: signed downgrades install",
           BOTH, boot=_IgnoreAntiRollbackBoot, download=DownloadManager),
    Mutant("early_anti_rollback",
           "the anti-rollback counter rises when the new software is installed (single bank) or confirms its "
           "start (A/B), before the update is committed: a campaign rolled back late cannot bring the previous "
           "software back",
           BOTH, boot=_EarlyAntiRollbackBoot, download=DownloadManager),
    Mutant("torn_page_ok",
           "the journal commits each TransferData block before programming it, so a resume after a power cut "
           "skips the torn block and the image ends up with unprogrammed pages",
           BOTH, boot=BootManager, download=_CommitBeforeProgramDownload),
    Mutant("late_programming_session",
           "the programming session (10 02) is answered only once the bootloader has started, 300 ms after the "
           "request, with no response pending (0x78) meanwhile: the tester's P2 expires",
           BOTH, boot=BootManager, download=DownloadManager, late_answer=(b"\x10\x02", 0.3)),
    *HIS_MUTANTS,
)}


def bootloader_for(name: str | None, bootloader: str) -> Mutant:
    """The boot and download classes of an ECU: its dialect's reference ones, or mutant ``name``'s.

    ConfigError when the mutant is unknown (configs built with ``model_copy`` skip validation)
    or is not a defect of this kind of bootloader (it would change nothing, and a campaign
    would seem to miss it).
    """
    if name is None:
        return dialect_of(bootloader).reference
    mutant = MUTANTS.get(name)
    if mutant is None:
        raise ConfigError(f"unknown mutant {name!r}; known: {', '.join(sorted(MUTANTS))}", field="virtual.mutant")
    if bootloader not in mutant.bootloaders:
        raise ConfigError(f"mutant {name!r} is a defect of {' and '.join(sorted(mutant.bootloaders))} bootloaders, "
                          f"not of a {bootloader} one", field="virtual.mutant")
    return mutant
