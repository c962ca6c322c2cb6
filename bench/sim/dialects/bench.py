"""The bench's own bootloader dialect, single bank or A/B: signed images (``bench.image``), a
download journal (DID 0xFD01), the classes of ``bench.sim.boot``, ``download`` and ``server``."""

from __future__ import annotations

from bench.config.models import EcuProfile
from bench.image import FirmwareImage, build_image
from bench.sim.boot import BankLayout, BootManager, VerificationFailed
from bench.sim.dialect import Mutant, SimDialect
from bench.sim.download import DownloadManager
from bench.sim.nvm import Eeprom, FlashMemory
from bench.sim.record import RecordStore
from bench.sim.server import EcuCore

REFERENCE = Mutant("reference", "none: the reference bootloader", frozenset({"single_bank", "ab"}),
                   boot=BootManager, download=DownloadManager)


def open_store(eeprom: Eeprom, layout: BankLayout) -> RecordStore:
    return RecordStore(eeprom, layout.bank_count)


def factory_program(flash: FlashMemory, store: RecordStore, layout: BankLayout, image: FirmwareImage) -> None:
    """End-of-line programming: bank A holds the image, verified, anti-rollback set."""
    flash.program(0, image.to_bytes())
    bank = store.record.banks[0]
    bank.valid, bank.version, bank.security_version = True, image.header.version, image.header.security_version
    store.record.anti_rollback = image.header.security_version
    store.save()


def nvm_problems(profile: EcuProfile, layout: BankLayout, flash: FlashMemory, store: RecordStore,
                 trusted_key: object) -> list[str]:
    """Every bank the EEPROM calls valid verifies and holds its recorded version; the journal is sane."""
    problems = []
    boot = BootManager(profile, layout, flash, store, trusted_key, lambda point, index: None)
    record = store.record
    for bank, info in enumerate(record.banks):
        if info.valid:
            try:
                header, _ = boot.verify(bank, check_rollback=False)
            except VerificationFailed as exc:
                problems.append(f"bank {'AB'[bank]} is marked valid but does not verify: {exc}")
                continue
            if header.version != info.version:
                problems.append(f"bank {'AB'[bank]} is recorded as version {info.version} but holds version {header.version}")
    if record.pending_bank is not None and not record.banks[record.pending_bank].valid:
        problems.append(f"pending bank {'AB'[record.pending_bank]} is not valid")
    if not record.banks[record.active_bank].valid and layout.bank_count == 2:
        problems.append(f"active bank {'AB'[record.active_bank]} of an A/B ECU is not valid")
    journal = record.journal
    if journal.committed > journal.total_length:
        problems.append(f"journal committed {journal.committed:#x} beyond its length {journal.total_length:#x}")
    return problems


def _dialect(name: str) -> SimDialect:
    return SimDialect(name, layout=BankLayout, store=open_store, reference=REFERENCE, core=EcuCore,
                      load_factory=build_image, factory_program=factory_program, nvm_problems=nvm_problems,
                      anti_rollback=lambda record: record.anti_rollback)


SINGLE_BANK = _dialect("single_bank")
AB = _dialect("ab")
