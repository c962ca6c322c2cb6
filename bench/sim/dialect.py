"""The seam between a virtual ECU and its bootloader dialect.

A dialect is what an ECU profile's ``bootloader`` names: how the flash is laid out, what the
EEPROM record holds, the boot and download classes (the reference ones; ``bench.sim.mutants``
swaps in broken ones), the UDS server class, and how the factory software is read and
programmed. ``SIM_DIALECTS`` maps the names to them, imported when first used, as python-can
maps interface names; a new dialect is one module (or package) under ``bench.sim.dialects``
plus its line here, or an entry point of the group ``ota_hil_bench.sim_dialects``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.registry import Registry

SIM_DIALECTS = Registry("bootloader dialect", {
    "single_bank": "bench.sim.dialects.bench:SINGLE_BANK",
    "ab": "bench.sim.dialects.bench:AB",
    "his": "bench.sim.dialects.his:HIS",
}, group="ota_hil_bench.sim_dialects")


@dataclass(frozen=True)
class Mutant:
    name: str
    defect: str
    """The bug as it would be filed against a real bootloader (one line)."""
    bootloaders: frozenset[str]
    """The kinds of bootloader (``EcuProfile.bootloader``) the defect exists in."""
    boot: type
    download: type
    late_answer: tuple[bytes, float] | None = None
    """(request start, seconds): the server answers requests starting so that long after them,
    with no response pending (0x78) meanwhile; a delay of the model, never of the host."""

    def answer_delay(self, request: bytes) -> float:
        """Seconds this bootloader deliberately holds back its answer to ``request`` (0: none)."""
        if self.late_answer is not None and request.startswith(self.late_answer[0]):
            return self.late_answer[1]
        return 0.0


@dataclass(frozen=True)
class SimDialect:
    name: str
    layout: Callable[[Any, int], Any]
    """(profile, sector_size) -> the flash layout: ``flash_size``, ``bank_count``, ``offset(bank)``."""
    store: Callable[[Any, Any], Any]
    """(eeprom, layout) -> the record store: ``record`` (with ``security_failures``), ``save()``."""
    reference: Mutant
    """The reference boot and download classes."""
    core: type
    """The UDS server class (``bench.sim.server.EcuCore`` or a subclass)."""
    load_factory: Callable[[Path], Any]
    """Reads ``virtual.factory_image`` into what ``factory_program`` takes."""
    factory_program: Callable[[Any, Any, Any, Any], None]
    """(flash, store, layout, software): end-of-line programming of a fresh ECU."""
    nvm_problems: Callable[[Any, Any, Any, Any, Any], list[str]]
    """(profile, layout, flash, store, trusted_key) -> where flash and EEPROM contradict each other."""
    anti_rollback: Callable[[Any], int] | None = None
    """record -> its anti-rollback counter; None: the dialect models no counter."""


def dialect_of(bootloader: str) -> SimDialect:
    return SIM_DIALECTS.load(bootloader)
