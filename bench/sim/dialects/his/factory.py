"""A HIS-style ECU at the end of the line: its software (a software file, each block inside a
logical block) programmed, every block checked valid, the dependencies passed; and the check of an ECU's
flash against its EEPROM record (what the ``nvm_consistent`` oracle asks every dialect)."""

from __future__ import annotations

import zlib
from pathlib import Path

from bench.config.models import EcuProfile
from bench.errors import ConfigError
from bench.image.software import SoftwareFile, load_software
from bench.sim.dialects.his.memory import BlockLayout, BlockRecord, HisStore
from bench.sim.dialects.his.software import IDENTIFICATION_SIZE, identification
from bench.sim.nrc import Nrc
from bench.sim.nvm import FlashMemory


def load_factory(path: Path) -> SoftwareFile:
    """The factory software: a software file (Intel HEX...), each of its blocks in a logical block."""
    return load_software(path)


def factory_program(flash: FlashMemory, store: HisStore, layout: BlockLayout, software: SoftwareFile) -> None:
    """Each block of ``software`` into the logical block that holds it, checked valid; application valid."""
    rec = store.record
    for block in software.blocks:
        try:
            index = layout.block_of(block.address, len(block.data))
        except Nrc as exc:  # outside the memory map
            raise ConfigError(f"factory software block {block.address:#x}+{len(block.data):#x}: {exc}",
                              file=str(software.path)) from exc
        start = layout.flash_offset(index, block.address)
        lead = start % flash.page_size
        flash.program(start - lead, b"\xff" * lead + block.data)
        rec.blocks[index] = BlockRecord(True, block.address, len(block.data), zlib.crc32(block.data))
    missing = [b.name for b, r in zip(layout.blocks, rec.blocks) if not r.valid]
    if missing:
        raise ConfigError(f"the factory software has no data for logical block(s) {', '.join(missing)}",
                          file=str(software.path))
    rec.application_valid = True
    store.save()


def nvm_problems(profile: EcuProfile, layout: BlockLayout, flash: FlashMemory, store: HisStore,
                 trusted_key: object) -> list[str]:
    """Every block the EEPROM calls valid holds data of its recorded CRC; a valid application has
    every block valid and of one version."""
    problems = []
    rec = store.record
    for index, (block, info) in enumerate(zip(layout.blocks, rec.blocks)):
        if info.valid:
            crc = zlib.crc32(flash.read(layout.flash_offset(index, info.start), info.length))
            if crc != info.crc:
                problems.append(f"block {block.name} is marked valid (CRC {info.crc:08X}) but its data "
                                f"have CRC {crc:08X}")
    if rec.application_valid:
        invalid = [b.name for b, r in zip(layout.blocks, rec.blocks) if not r.valid]
        if invalid:
            problems.append(f"the application is marked valid but block(s) {', '.join(invalid)} are not")
        versions = {identification(flash.read(layout.flash_offset(i, b.address), IDENTIFICATION_SIZE))
                    for i, b in enumerate(layout.blocks)}
        if len(versions) != 1 or None in versions:
            problems.append(f"the application is marked valid but its blocks name versions {sorted(map(str, versions))}")
    return problems
