"""What a HIS-style bootloader decides at every power-on and reset: the application starts only
when every logical block passed its CRC check and the programming dependencies passed since the
last erase (the flags in EEPROM); otherwise the ECU stays in its bootloader, in the default
session, and can be reprogrammed (never bricked)."""

from __future__ import annotations

from collections.abc import Callable

from bench.config.models import EcuProfile
from bench.dids import BootMode, BootState
from bench.sim.boot import RunningSoftware
from bench.sim.dialects.his.memory import BlockLayout, HisStore
from bench.sim.dialects.his.software import IDENTIFICATION_SIZE, identification
from bench.sim.nvm import FlashMemory

Probe = Callable[[str, int], None]


class HisBoot:
    def __init__(self, profile: EcuProfile, layout: BlockLayout, flash: FlashMemory, store: HisStore,
                 trusted_key: object, probe: Probe, log: Callable[[str], None] = lambda line: None) -> None:
        self._profile = profile
        self._layout = layout
        self._flash = flash
        self._store = store
        self._probe = probe
        self._log = log
        self.running = RunningSoftware(BootMode.BOOTLOADER, 0, BootState.BOOTLOADER, None)
        self.hung = False
        """Never set by this bootloader (the ECU loop asks every dialect)."""

    @property
    def record(self):  # noqa: ANN201 - the store's live record
        return self._store.record

    def target_bank(self) -> int:
        return 0

    def block_identification(self, index: int) -> str | None:
        """The version block ``index`` names in its first bytes (``software.identification``)."""
        block = self._layout.blocks[index]
        return identification(self._flash.read(self._layout.flash_offset(index, block.address), IDENTIFICATION_SIZE))

    def application_complete(self) -> bool:
        """Every block checked valid and the dependencies passed: what the bootloader starts."""
        rec = self.record
        return rec.application_valid and all(block.valid for block in rec.blocks)

    def installed_version(self) -> str | None:
        """The application's version when it is complete, else None."""
        return self.block_identification(0) if self.application_complete() else None

    def start(self) -> RunningSoftware:
        """Power-on or reset: the application when it is complete, else the bootloader."""
        self._probe("boot", 0)
        version = self.installed_version()
        if version is None:
            invalid = [b.name for b, r in zip(self._layout.blocks, self.record.blocks) if not r.valid]
            why = f"blocks not valid: {', '.join(invalid)}" if invalid else "programming dependencies not checked"
            self._log(f"BOOT: application not complete ({why}): staying in the bootloader")
            return self.enter_bootloader()
        self.running = RunningSoftware(BootMode.APPLICATION, 0, BootState.APPLICATION, version)
        self._log(f"BOOT: starting application {version}")
        return self.running

    def enter_bootloader(self) -> RunningSoftware:
        self.running = RunningSoftware(BootMode.BOOTLOADER, 0, BootState.BOOTLOADER, None)
        return self.running
