"""The bootloader's patcher: a staged detools patch turned into flash writes that survive power loss.

detools does the patching; this module gives it a view of the flash in which every write
becomes a numbered *step*: erase one sector, program it, count the step done in EEPROM. After
a power cut the patch is run again from its start with the same numbering, and the steps
already done are skipped (their bytes are not written again). That is sound because no step
reads what an earlier step of the same patch wrote:

* sequential (A/B): the base is read from the active bank, which nothing writes; the target
  bank is written front to back;
* in-place (single bank): detools first moves the base up to the end of the memory (its
  *shift*), done here top sector first so each sector still finds its source untouched; then
  segment N of the target is written from base bytes above segment N only.

A step is redone whole when it was cut (a torn sector is erased again). Probe ``patch_step``
(index: the step number) runs before each step, so a test can cut power at any of them.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass

import detools
from detools.apply import read_header_in_place, read_header_sequential
from detools.common import COMPRESSIONS, PATCH_TYPE_IN_PLACE, PATCH_TYPE_SEQUENTIAL, peek_header_type

from bench.image import DeltaPackage
from bench.sim.nvm import FlashMemory

Probe = Callable[[str, int], None]
STEP_PROBE = "patch_step"
_DETOOLS_TYPES = {PATCH_TYPE_SEQUENTIAL: "sequential", PATCH_TYPE_IN_PLACE: "in-place"}
_COMPRESSION_NAMES = {number: name for name, number in COMPRESSIONS.items()}


class PatchFailed(Exception):
    """The patch is not one this bootloader can apply, or detools could not apply it."""


@dataclass(frozen=True)
class PatchInfo:
    """What the detools patch says about itself (its own header)."""

    patch_type: str
    compression: str
    to_size: int
    memory_size: int = 0
    segment_size: int = 0
    shift_size: int = 0
    from_size: int = 0


def patch_info(patch: bytes) -> PatchInfo:
    """Read the detools header; PatchFailed when there is none or it is of another kind."""
    stream = io.BytesIO(patch)
    try:
        kind = _DETOOLS_TYPES.get(peek_header_type(stream))
        if kind == "sequential":
            compression, to_size = read_header_sequential(stream)
            return PatchInfo(kind, compression, to_size)
        if kind == "in-place":
            compression, memory, segment, shift, from_size, to_size = read_header_in_place(stream)
            return PatchInfo(kind, compression, to_size, memory, segment, shift, from_size)
    except detools.Error as exc:
        raise PatchFailed(f"no detools patch header: {exc}") from None
    raise PatchFailed("detools patch of a type this bootloader does not apply (neither sequential nor in-place)")


def patch_steps(package: DeltaPackage, sector_size: int) -> int:
    """How many steps (``patch_step`` probe indexes 0..n-1) applying ``package`` takes."""
    info = patch_info(package.patch)
    steps = -(-info.to_size // sector_size)
    if info.patch_type == "in-place":
        steps += -(-min(info.from_size, info.memory_size - info.shift_size) // sector_size)
    return steps


def dry_run(package: DeltaPackage, base: bytes, memory_size: int) -> bytes:
    """The target image the patch makes from ``base``, computed in RAM (nothing is written)."""
    patch = io.BytesIO(package.patch)
    try:
        if package.header.patch_type == "in-place":
            memory = io.BytesIO(base + b"\xff" * (memory_size - len(base)))
            detools.apply_patch_in_place(memory, patch)
            return memory.getvalue()[:package.header.target_length]
        target = io.BytesIO()
        detools.apply_patch(io.BytesIO(base), patch, target)
        return target.getvalue()
    except (detools.Error, NotImplementedError, ValueError, OverflowError) as exc:  # broken patches, in detools
        raise PatchFailed(f"the patch does not apply: {exc or type(exc).__name__}") from None


def apply_in_steps(flash: FlashMemory, package: DeltaPackage, *, base: int, target: int, memory_size: int,
                   steps_done: int, probe: Probe, step_done: Callable[[int], None]) -> None:
    """Patch ``package`` into flash from step ``steps_done`` on; ``step_done(n)`` persists progress.

    ``base`` and ``target`` are flash offsets (equal for in-place); ``memory_size`` is the bytes
    detools may use at ``target``.
    """
    patch = io.BytesIO(package.patch)
    try:
        if package.header.patch_type == "in-place":
            info = patch_info(package.patch)
            memory = _SteppedFlash(flash, target, memory_size, steps_done=steps_done, probe=probe,
                                   step_done=step_done, shift_to=info.shift_size)
            detools.apply_patch_in_place(memory, patch)
        else:
            memory = _SteppedFlash(flash, target, memory_size, steps_done=steps_done, probe=probe,
                                   step_done=step_done)
            detools.apply_patch(io.BytesIO(flash.read(base, package.header.base_length)), patch, memory)
        memory.finish()
    except detools.Error as exc:  # not after a passed dry run; if detools ever does, the job ends, not the ECU
        raise PatchFailed(f"patching stopped: {exc}") from None


class _SteppedFlash:
    """The file detools patches: reads see the flash; writes become steps of one sector each.

    After an optional *shift* (in-place: the first write, which moves the base up), writes must
    form one stream from offset 0 (the target image), as detools writes it; anything else
    means detools changed and is refused rather than written.
    """

    def __init__(self, flash: FlashMemory, offset: int, size: int, *, steps_done: int, probe: Probe,
                 step_done: Callable[[int], None], shift_to: int | None = None) -> None:
        self._flash, self._offset, self._size = flash, offset, size
        self._sector = flash.sector_size
        self._steps_done, self._probe, self._step_done = steps_done, probe, step_done
        self._shift_to = shift_to
        self._position = 0
        self._written = 0  # end of the target stream so far
        self._pending = bytearray()  # stream bytes of the sector not yet complete
        self._step = 0

    # -- the file interface detools uses ---------------------------------------------------

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        end = self._size if size < 0 else min(self._size, self._position + size)
        if self._pending and self._position < self._written and end > self._written - len(self._pending):
            raise PatchFailed(f"detools read {self._position:#x}..{end:#x}, bytes it is still writing")
        data = self._flash.read(self._offset + self._position, max(end - self._position, 0))
        self._position += len(data)
        return data

    def write(self, data: bytes) -> int:
        if self._shift_to is not None:
            self._shift(data)
        else:
            self._stream(data)
        self._position += len(data)
        return len(data)

    def finish(self) -> None:
        """Write the last, partial sector of the target (its tail stays erased)."""
        if self._pending:
            self._commit((self._written - len(self._pending)) // self._sector, bytes(self._pending))
            self._pending.clear()

    # -- steps ---------------------------------------------------------------------------

    def _shift(self, data: bytes) -> None:
        at, self._shift_to = self._shift_to, None
        if self._position != at or at % self._sector:
            raise PatchFailed(f"detools shifted the base to {self._position:#x}, the patch says {at:#x}")
        sectors = -(-len(data) // self._sector)
        for k in reversed(range(sectors)):  # top first: each source sector is still untouched
            self._commit(at // self._sector + k, data[k * self._sector:(k + 1) * self._sector])

    def _stream(self, data: bytes) -> None:
        if self._position != self._written:
            raise PatchFailed(f"detools wrote at {self._position:#x}, not at the end of the target "
                              f"({self._written:#x})")
        view = memoryview(data)
        while view:
            take = min(len(view), self._sector - len(self._pending))
            self._pending += view[:take]
            self._written += take
            view = view[take:]
            if len(self._pending) == self._sector:
                self._commit(self._written // self._sector - 1, bytes(self._pending))
                self._pending.clear()

    def _commit(self, sector: int, data: bytes) -> None:
        """One step: erase ``sector`` (of this memory) and program ``data`` into it, then count it."""
        step, self._step = self._step, self._step + 1
        if step < self._steps_done:
            return  # done before a power loss: those bytes are in flash already
        self._probe(STEP_PROBE, step)
        start = self._offset + sector * self._sector
        self._flash.erase(start, self._sector)
        self._flash.program(start, data)
        self._step_done(step + 1)
