"""How the update master reaches the ECUs of its rig: what each one's bootloader can do (commit,
switch banks, take the bench's images), flashing it, whether it answers, which version it runs.

The campaign's logic (``bench.vehicle.master.UpdateMaster``: accept, install, commit, roll back,
journal) is kept apart from these questions put to one ECU; the master mixes them in, so a mutant
master (``bench.vehicle.mutants``) still overrides any of them, as ``_flash``.
"""

from __future__ import annotations

from collections.abc import Callable

from udsoncan.exceptions import (InvalidResponseException, NegativeResponseException, TimeoutException,
                                 UnexpectedResponseException)

from bench.config.registries import COMMITTING_BOOTLOADERS
from bench.image import FirmwareImage
from bench.rig import Bench
from bench.vehicle.acceptance import Loaded
from bench.vehicle.manifest import CampaignManifest


class CampaignEcus:
    """Mixed into ``UpdateMaster``: its rig's ECUs, each by name; flash progress goes to its probe."""

    _rig: Bench
    _probe: Callable[[str], None]

    def _commits(self, name: str) -> bool:
        """Whether the ECU's bootloader has the routine ``commit_bank`` (it keeps a counter to raise)."""
        return self._rig.profile(name).bootloader in COMMITTING_BOOTLOADERS

    def _switches_banks(self, name: str) -> bool:
        """Whether the ECU's bootloader keeps its previous software in a bank of its own (A/B)."""
        return self._rig.profile(name).bootloader == "ab"

    def _takes_bench_images(self, name: str) -> bool:
        """Whether the ECU's flash specification downloads the bench's image (else software files)."""
        return self._rig.profile(name).flash_spec.takes_images

    def _flash(self, name: str, package: Loaded, version: str, *, resume: bool) -> None:
        flasher = self._rig.ecu(name).flasher

        def progress(done: int, total: int) -> None:
            self._probe(f"downloading:{name}")

        if isinstance(package, FirmwareImage):
            flasher.flash(package, resume=resume, progress=progress)
        else:
            flasher.flash_software([package], resume=resume, expect_version=version, progress=progress)

    def _answers(self, name: str, within: float) -> bool:
        """Whether ``name`` answers (TesterPresent) within ``within`` seconds."""
        try:
            self._rig.ecu(name).diagnostics.wait_responsive(within)
        except TimeoutException:
            return False
        return True

    def _version(self, name: str) -> str | None:
        """The version ``name`` runs; None when it runs no application or does not answer."""
        try:
            return self._rig.ecu(name).diagnostics.read_version()
        except (NegativeResponseException, TimeoutException, InvalidResponseException, UnexpectedResponseException):
            return None

    def _named_ecus(self, manifest: CampaignManifest) -> list[str]:
        """The targets and every other ECU of the bench a released version set names."""
        named = dict.fromkeys([*manifest.targets, *(ecu for released in manifest.version_sets for ecu in released)])
        return [name for name in named if name in self._rig.ecu_names]
