"""Oracles: what must hold after an interrupted update, whatever interrupted it.

UN R156 / GB 44496-2024: a failed update recovers to the previous version or a safe state.
Here that means: the ECU answers diagnostics again within a bound (never bricked); it runs the
old or the new version and nothing else (a single-bank ECU may instead wait in its bootloader,
still reprogrammable); an A/B ECU runs the previous bank after a failed update; a resumed
download re-sent at most one block; and (virtual ECUs) its NVM is consistent.

A violated oracle raises an ``OutcomeViolation`` — an AssertionError, i.e. a finding about the
ECU, which the report shows as a failure, never as a bench error. Its subclass names the kind
of defect (``EcuBricked``, ``WrongVersion``, ``RollbackFailed``, ``ResumeFailed``,
``NvmInconsistent``), which the report's categories sort by.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from udsoncan.exceptions import TimeoutException

from bench.dids import BootMode
from bench.flash.diagnostics import version_text

if TYPE_CHECKING:
    from bench.flash import FlashResult
    from bench.rig import EcuHandle
    from bench.sim.ecu import VirtualEcu


class OutcomeViolation(AssertionError):
    """The ECU did not end in a state the regulation allows. The message says which expectation
    failed, the same words for the same defect (no scenario id, so a report groups by it);
    ``ecu_state`` what the ECU reported about itself then (shown with the failure)."""

    def __init__(self, message: str, *, ecu_state: str = "") -> None:
        super().__init__(message)
        self.ecu_state = ecu_state


class EcuBricked(OutcomeViolation):
    """The ECU does not answer diagnostics again after the fault has ended."""


class WrongVersion(OutcomeViolation):
    """The ECU runs a version it must not run at that point (neither old nor new, or not the one allowed)."""


class RollbackFailed(OutcomeViolation):
    """After a failed or refused update the ECU does not run its previous version (bank)."""


class ResumeFailed(OutcomeViolation):
    """The interrupted update did not complete from the journal, or re-sent more than it may."""


class NvmInconsistent(OutcomeViolation):
    """The virtual ECU's flash and EEPROM contradict each other (torn or half-committed state)."""


def recovers(ecu: EcuHandle, *, within: float = 5.0) -> float:
    """Seconds until the ECU answered TesterPresent; EcuBricked past ``within``."""
    try:
        return ecu.diagnostics.wait_responsive(within)
    except TimeoutException:
        ecu.link.discard_pending()
        raise EcuBricked(f"{ecu.name} is bricked: no answer to TesterPresent within {within:.1f} s "
                         "after power returned") from None


SINGLE_COPY = ("single_bank", "his")
"""Bootloaders that rewrite the one copy of the application: with it incomplete they wait in the
bootloader, reprogrammable (an A/B ECU always runs one of its banks)."""


def version_is_old_or_new(ecu: EcuHandle, old: str, new: str) -> str | None:
    """The running version, which must be ``old`` or ``new``; None when a single-bank (or HIS-style)
    ECU waits in its bootloader with no valid application (a safe, reprogrammable state). An ECU that
    keeps no boot status DID (a bootloader not of the bench's dialect) waits there when it answers
    the version DID with 0x22, as ``read_version`` reads it."""
    version = ecu.diagnostics.read_version()
    if version in (old, new):
        return version
    status = ecu.diagnostics.read_boot_status_if_kept()
    in_bootloader = status.mode == BootMode.BOOTLOADER if status is not None else version is None
    if version is None and in_bootloader and ecu.profile.bootloader in SINGLE_COPY:
        return None
    state = status if status is not None else "no boot status DID"
    raise WrongVersion(f"{ecu.name} reports {version_text(version)} ({state}); only {old} or {new} "
                       "are allowed" + ("" if ecu.profile.bootloader in SINGLE_COPY
                                        else ", and an A/B ECU must always run one of them"))


def runs_previous_bank(ecu: EcuHandle, *, bank: int, version: str) -> None:
    """A/B after a failed or interrupted update: still the previous bank and version."""
    status = ecu.diagnostics.read_boot_status()
    running = ecu.diagnostics.read_version()
    if status.mode != BootMode.APPLICATION or status.active_bank != bank or running != version:
        raise RollbackFailed(f"{ecu.name} should run bank {'AB'[bank]} version {version}; "
                             f"it runs {status} {version_text(running)}")


def resent_at_most_one_block(interrupted: FlashResult, resumed: FlashResult, *, blocks: int = 1) -> int:
    """Bytes the tester sent twice after a download cut inside TransferData; ResumeFailed when
    more than ``blocks`` blocks. An attempt cut elsewhere has no transfer to resume: 0."""
    steps = interrupted.timeline.steps
    if not steps or steps[-1].name != "TransferData" or steps[-1].outcome == "ok":
        return 0
    resent = max(0, interrupted.bytes_sent - resumed.resumed_from)
    block = resumed.block_size or interrupted.block_size
    if resent > blocks * block:
        how = f"resumed at {resumed.resumed_from:#x}" if resumed.resumed_from else "started over"
        raise ResumeFailed(f"{resumed.ecu}: the download {how} and re-sent {resent} bytes, more than "
                           f"{blocks} block(s) of {block} B")
    return resent


def nvm_consistent(sim: VirtualEcu) -> None:
    """The virtual ECU's EEPROM reads back and agrees with its flash, as its dialect defines it
    (bench: every bank it calls valid verifies, its journal is sane; his: every block it calls
    valid has its CRC, a valid application is whole and of one version)."""
    never = threading.Event()
    store = sim.open_store(never)
    flash = sim.open_flash(never)
    try:
        problems = sim.dialect.nvm_problems(sim.profile, sim.layout, flash, store, sim.trusted_key)
    finally:
        flash.close()
    if problems:
        raise NvmInconsistent(f"{sim.name} NVM is inconsistent: " + "; ".join(problems))
