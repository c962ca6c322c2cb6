"""A delta package in the staging area: what the bootloader checks before it lets it patch anything.

The header is checked as soon as it has arrived (TransferData answers NRC 0x31, so a package
for another base is not even downloaded), and the whole package again by
CheckProgrammingDependencies, before the job is armed:

* header: the download is exactly header + patch (a truncated package is refused), signed by
  the trusted key, of the patch type this bootloader applies (sequential on A/B, in-place on
  single bank), not below the anti-rollback counter, a target that fits the bank;
* base: the installed image (active bank) is valid and byte for byte the one the package names;
* patch: its digest; its own detools header agrees (type, a compression the bootloader decodes,
  memory and segment sizes, base and target lengths); applied once in RAM it makes exactly the
  target image (the simulator can afford the RAM; it stands for "a signed but broken patch is
  caught before the old image is touched").

Nothing is written to a bank here: the job is armed in EEPROM and runs at the next start.
"""

from __future__ import annotations

import hashlib

from bench.config.models import EcuProfile
from bench.image import HEADER_SIZE, DeltaHeader, DeltaPackage, SignatureError, check_delta_signature
from bench.routine_status import CHECK_BASE, CHECK_DIGEST, CHECK_FORMAT, CHECK_PATCH, CHECK_ROLLBACK, CHECK_SIGNATURE
from bench.sim.boot import BankLayout, BootManager, VerificationFailed
from bench.sim.patching import PatchFailed, dry_run, patch_info
from bench.sim.record import RecordStore


class StagingChecks:
    """The checks DownloadManager runs on the package in the staging area (VerificationFailed: why not)."""

    def __init__(self, profile: EcuProfile, layout: BankLayout, store: RecordStore, boot: BootManager,
                 sector_size: int) -> None:
        assert profile.delta is not None, "only ECUs that take delta packages have a staging area"
        self._delta = profile.delta
        self._layout = layout
        self._store = store
        self._boot = boot
        self._sector_size = sector_size

    @property
    def _patch_type(self) -> str:
        return "sequential" if self._layout.bank_count == 2 else "in-place"

    def check_header(self, header: DeltaHeader, length: int) -> None:
        """Everything the header alone decides, for a download of ``length`` bytes."""
        if length != HEADER_SIZE + header.patch_length:
            raise VerificationFailed(f"package of {length} B, its header says {HEADER_SIZE} + {header.patch_length} B "
                                     "(truncated or padded)", CHECK_FORMAT)
        try:
            check_delta_signature(header, self._boot.trusted_key)
        except SignatureError as exc:
            raise VerificationFailed(str(exc), CHECK_SIGNATURE) from exc
        if header.patch_type != self._patch_type:
            raise VerificationFailed(f"{header.patch_type} patch, this {self._layout.kind} bootloader applies "
                                     f"{self._patch_type} ones", CHECK_FORMAT)
        anti_rollback = self._store.record.anti_rollback
        if header.security_version < anti_rollback:
            raise VerificationFailed(f"security version {header.security_version} below anti-rollback counter "
                                     f"{anti_rollback}", CHECK_ROLLBACK)
        if header.target_length > self._layout.bank_size:
            raise VerificationFailed(f"target image of {header.target_length} B larger than the bank", CHECK_FORMAT)
        self._check_base(header)

    def _check_base(self, header: DeltaHeader) -> None:
        bank = self._store.record.active_bank
        digest = self._boot.installed_digest(bank)
        wanted = f"{header.base_version} ({header.base_digest.hex()[:12]})"
        if digest is None:
            raise VerificationFailed(f"package for base {wanted}, but there is no valid application to patch",
                                     CHECK_BASE)
        if digest != header.base_digest or len(self._boot.image_bytes(bank)) != header.base_length:
            running = self._store.record.banks[bank].version
            raise VerificationFailed(f"package for base {wanted}, the ECU has {running} ({digest.hex()[:12]})",
                                     CHECK_BASE)

    def check_integrity(self, length: int) -> DeltaPackage:
        """CheckMemory: the staged package is whole (length and patch digest), nothing more."""
        package = self._boot.read_staged()
        if length != HEADER_SIZE + package.header.patch_length:
            raise VerificationFailed(f"package of {length} B, its header says {HEADER_SIZE} + "
                                     f"{package.header.patch_length} B", CHECK_FORMAT)
        if hashlib.sha256(package.patch).digest() != package.header.patch_sha256:
            raise VerificationFailed("patch digest mismatch: SHA-256 of the patch differs from the header",
                                     CHECK_DIGEST)
        return package

    def check(self, length: int) -> DeltaPackage:
        """The whole package, before a job is armed; VerificationFailed says why not."""
        package = self.check_integrity(length)
        header = package.header
        self.check_header(header, length)
        try:
            info = patch_info(package.patch)
        except PatchFailed as exc:
            raise VerificationFailed(str(exc), CHECK_FORMAT) from exc
        if info.patch_type != header.patch_type:
            raise VerificationFailed(f"the header says {header.patch_type}, the patch is {info.patch_type}",
                                     CHECK_FORMAT)
        if info.compression != self._delta.compression:
            raise VerificationFailed(f"patch compressed with {info.compression}; this bootloader decodes "
                                     f"{self._delta.compression} only", CHECK_FORMAT)
        if info.to_size != header.target_length:
            raise VerificationFailed(f"patch makes {info.to_size} B, the header says a {header.target_length} B "
                                     "target", CHECK_FORMAT)
        if info.patch_type == "in-place":
            if info.memory_size != self._layout.bank_size or info.segment_size % self._sector_size:
                raise VerificationFailed(f"in-place patch for a {info.memory_size} B memory in {info.segment_size} B "
                                         f"segments; this bank is {self._layout.bank_size} B in "
                                         f"{self._sector_size} B sectors", CHECK_FORMAT)
            if info.from_size != header.base_length:
                raise VerificationFailed(f"patch made from {info.from_size} B, the header says a {header.base_length} "
                                         "B base", CHECK_FORMAT)
        try:
            made = dry_run(package, self._boot.image_bytes(self._store.record.active_bank), self._layout.bank_size)
        except PatchFailed as exc:
            raise VerificationFailed(str(exc), CHECK_PATCH) from exc
        if hashlib.sha256(made).digest() != header.target_digest:
            raise VerificationFailed(f"the patch makes {len(made)} B that are not the target image "
                                     f"{header.version}", CHECK_PATCH)
        return package
