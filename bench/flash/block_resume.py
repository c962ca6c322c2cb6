"""Where a flash of software files by its specification starts, and the progress record it keeps.

A spec's ``resume: restart_block`` starts a resumed flash again at the logical block the failed
attempt stopped in. The flasher's own last attempt at the same software says which (the same
process); else the tester's progress record does (``bench.flash.progress_record``: a later
process). A record is trusted only for the same ECU, the same software (``plan_digest``) and the
same identity: the identification DIDs the spec read before the blocks (ISO 14229-1's serial
number 0xF18C, VIN 0xF190, hardware numbers 0xF191-0xF193, and the profile's ``serial_number`` and
``hardware_number`` DIDs) must answer as they did, so a swapped ECU is flashed from its first
block. Anything else starts at block 0, and ``FlashResult.resume_note`` says why.

With a record, every flash writes it: when the blocks start (a flash that does not resume starts
it again at block 0), after every block whose check passed, and once the sequence completed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.config.models import EcuProfile
from bench.flash.block_plan import PlannedBlock
from bench.flash.progress_record import BlocksDone, ProgressRecord
from bench.flash.result import FlashResult

IDENTITY_DIDS = frozenset({0xF18C, 0xF190, 0xF191, 0xF192, 0xF193})
"""ISO 14229-1: ECU serial number, VIN, vehicle manufacturer's and supplier's hardware number, hardware version."""


def identity_dids(profile: EcuProfile) -> frozenset[int]:
    """The DIDs that tell one ECU from another of its kind: ISO's and the profile's serial and hardware number."""
    named = profile.dids.identification
    return IDENTITY_DIDS | {named[key] for key in ("serial_number", "hardware_number") if key in named}


def block_label(block: PlannedBlock) -> str:
    """``calibration 0x00080000``: the block's memory-map name (where it has one) and address."""
    return f"{block.region.name} {block.address:#010x}" if block.region else f"{block.address:#010x}"


class BlockResume:
    """The first logical block of one flash (block 0 unless the flasher says otherwise) and the record
    kept of it (``record`` None: none kept)."""

    def __init__(self, ecu: str, software: str, blocks: Sequence[PlannedBlock], identity: frozenset[int], *,
                 record: ProgressRecord | None) -> None:
        self.ecu, self.software, self.blocks, self.identity, self.record = ecu, software, blocks, identity, record
        self.first_block: int | None = 0
        """None: where ``earlier`` says, chosen once the spec has read the ECU's identity (``start``)."""
        self.resumed = False
        """``first_block`` is where an earlier failed attempt stopped."""
        self.earlier: BlocksDone | None = None
        """The record as it was before this flash."""
        self.why = ""
        """Why the flash starts where it does (a resumed flash)."""
        self._read: dict[str, str] = {}

    def start(self, result: FlashResult) -> int:
        """The position of the first block to flash (sets ``resumed_block`` and ``resume_note``); records it."""
        self._read = {f"0x{did:04X}": value for did, value in result.dids_read.items() if did in self.identity}
        if self.first_block is None:
            self.first_block, self.resumed, self.why = self._from_record()
        first = self.first_block
        if self.resumed:
            result.resumed_block = first
            where = f"resumed at logical block {first} ({block_label(self.blocks[first])})" \
                if first < len(self.blocks) else f"resumed after the last logical block (all {first} done)"
        else:
            where = f"started at logical block 0 ({block_label(self.blocks[0])})"
        result.resume_note = f"{where}: {self.why}" if self.why else where
        self._write(first)
        return first

    def block_done(self, result: FlashResult) -> None:
        """A block's check passed: on record."""
        self._write((self.first_block or 0) + result.blocks_done)

    def completed(self) -> None:
        """The whole sequence went through: a later resume starts again at block 0."""
        self._write(len(self.blocks), complete=True)

    def _from_record(self) -> tuple[int, bool, str]:
        assert self.record is not None
        earlier, where = self.earlier, f"progress record {self.record.path}"
        if earlier is not None and (earlier.ecu, earlier.software, earlier.identity) == \
                (self.ecu, self.software, self._read) and not earlier.complete:
            done = earlier.blocks_done
            unchecked = "" if self._read else (" (the ECU's identity not checked: the flash specification reads no "
                                               "identification DID before the blocks)")
            return done, True, f"{where} says {done} of {len(self.blocks)} are done{unchecked}"
        if earlier is None:
            why = f"no {where}"
        elif earlier.ecu != self.ecu:
            why = f"{where} is of ECU {earlier.ecu!r}, not {self.ecu!r}"
        elif earlier.software != self.software:
            why = f"{where} is of other software ({earlier.software[:12]}, these files are {self.software[:12]})"
        elif earlier.identity != self._read:
            why = (f"{where} was made on another ECU ({_shown(earlier.identity)}; this one reads "
                   f"{_shown(self._read)})")
        else:
            why = f"{where}: the last flash of this software completed"
        return 0, False, why

    def _write(self, done: int, *, complete: bool = False) -> None:
        if self.record is not None:
            self.record.write(BlocksDone(self.ecu, self.software, tuple(block_label(b) for b in self.blocks), done,
                                         dict(self._read), complete))


def _shown(identity: Mapping[str, str]) -> str:
    return ", ".join(f"DID {did} {value!r}" for did, value in identity.items()) or "no identification DID read"
