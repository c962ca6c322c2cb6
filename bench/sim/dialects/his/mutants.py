"""Mutant HIS-style bootloaders: the reference one (``boot``, ``download``) with one deliberate,
realistic defect each, overriding only the decision the defect is about (``bench.sim.mutants``
lists them with the bench dialect's)."""

from __future__ import annotations

from bench.sim.dialect import Mutant
from bench.sim.dialects.his.boot import HisBoot
from bench.sim.dialects.his.download import HisDownload, _Download

HIS = frozenset({"his"})


class _CrcNotCheckedDownload(HisDownload):
    def _crc_matches(self, dl: _Download, expected: int) -> bool:
        """Takes the tester's CRC as the block's without computing its own."""
        return True


class _WrongBlockEraseDownload(HisDownload):
    def erase_block(self, index: int) -> None:
        """Invalidates the block asked for but erases the next one in the block table (an
        off-by-one: the table is indexed from 1 in the erase routine; the last wraps to block 0)."""
        wrong = (index + 1) % len(self._layout.blocks)
        super().erase_block(wrong)
        rec = self._store.record
        rec.blocks[index].valid = False
        self._store.save()
        self._erased = {index}


class _DownloadBeforeEraseDownload(HisDownload):
    def _require_erased(self, index: int) -> None:
        """Takes a RequestDownload into any block, erased or not."""


class _KeepsValidOnEraseDownload(HisDownload):
    def erase_block(self, index: int) -> None:
        """Erases the block but leaves its valid flag and the application's as they were: a cut
        download of it still looks like a complete application at the next start."""
        rec = self._store.record
        kept, application = rec.blocks[index], rec.application_valid
        super().erase_block(index)
        rec.blocks[index], rec.application_valid = kept, application
        self._store.save()


HIS_MUTANTS = (
    Mutant("his_crc_not_checked",
           "routine 0x0202 marks the block valid with the CRC the tester sends, never computing its own: "
           "corrupted data become a valid application", HIS, boot=HisBoot, download=_CrcNotCheckedDownload),
    Mutant("his_erases_wrong_block",
           "the erase routine indexes the block table from 1: erasing a logical block erases the next one "
           "(the last one erases block 0)", HIS, boot=HisBoot, download=_WrongBlockEraseDownload),
    Mutant("his_download_before_erase",
           "RequestDownload is accepted into a logical block that was not erased first (blocks out of order)",
           HIS, boot=HisBoot, download=_DownloadBeforeEraseDownload),
    Mutant("his_keeps_valid_on_erase",
           "erasing a logical block leaves its valid flag and the application's set, so after a power cut "
           "the bootloader starts an application with a half-written block", HIS, boot=HisBoot,
           download=_KeepsValidOnEraseDownload),
)
