"""A bus-less virtual ECU with the HIS-style bootloader (``bench.sim.dialects.his``), built through
its dialect as ``bench.sim.ecu.VirtualEcu`` builds it: UDS bytes in, UDS bytes out, power cut at
any probe point, everything in RAM rebuilt at every ``power_on()``. The profile and the factory
software are the default bench's EPS (``fixtures/benches/virtual.yaml``, fixtures/software)."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from pathlib import Path

from bench.config import load_bench
from bench.config.models import EcuProfile
from bench.keys import xor_key
from bench.sim.dialect import dialect_of
from bench.sim.mutants import bootloader_for
from bench.sim.nvm import Eeprom, FlashMemory
from bench.sim.security import SecurityAccess
from sim_factory import FakeClock, h

ROOT = Path(__file__).resolve().parent.parent
SOFTWARE = ROOT / "fixtures" / "software"
BENCH = load_bench(ROOT / "fixtures" / "benches" / "virtual.yaml")
PROFILE: EcuProfile = BENCH.profiles["his"]
SECTOR, PAGE = 4096, 256
APP, CAL = PROFILE.memory.blocks
FINGERPRINT = h("01 02 03 04 05 06 26 12 03")  # tester serial, 2026-12-03


class HisSim:
    def __init__(self, directory: Path, *, factory: str | None = "eps-1.0.0", mutant: str | None = None,
                 profile: EcuProfile = PROFILE) -> None:
        self.profile = profile
        self.dialect = dialect_of("his")
        self.bootloader = bootloader_for(mutant, "his")
        self.layout = self.dialect.layout(profile, SECTOR)
        directory.mkdir(parents=True, exist_ok=True)
        self.flash_path, self.eeprom_path = directory / "eps.flash", directory / "eps.eeprom"
        self.clock = FakeClock()
        self.on_probe: Callable[[str, int], None] | None = None
        self.voltage = 13.5
        self._power_lost = threading.Event()
        self._flash: FlashMemory | None = None
        if factory is not None:
            never = threading.Event()
            flash = self._open_flash(never)
            try:
                software = self.dialect.load_factory(SOFTWARE / f"{factory}.hex")
                self.dialect.factory_program(flash, self._open_store(never), self.layout, software)
            finally:
                flash.close()
        self.power_on()

    def _open_flash(self, power_lost: threading.Event) -> FlashMemory:
        return FlashMemory(self.flash_path, self.layout.flash_size, SECTOR, PAGE, power_lost=power_lost,
                           probe=self._probe)

    def _open_store(self, power_lost: threading.Event):  # noqa: ANN202
        return self.dialect.store(Eeprom(self.eeprom_path, power_lost=power_lost), self.layout)

    def _probe(self, point: str, index: int) -> None:
        if self.on_probe is not None:
            self.on_probe(point, index)

    def power_on(self) -> None:
        self.close()
        self._power_lost = threading.Event()
        self._flash = self._open_flash(self._power_lost)
        self.store = self._open_store(self._power_lost)
        self.boot = self.bootloader.boot(self.profile, self.layout, self._flash, self.store, None, self._probe)
        self.download = self.bootloader.download(self.profile, self.layout, self._flash, self.store, self.boot)
        security = SecurityAccess(self.profile.security, xor_key, self.store, clock=self.clock)
        self.core = self.dialect.core("eps", self.profile, self.store, self.boot, self.download, security,
                                      clock=self.clock, voltage=lambda: self.voltage)
        self.boot.start()

    def cut_power(self) -> None:
        self._power_lost.set()

    def close(self) -> None:
        if self._flash is not None:
            self._flash.close()
            self._flash = None

    def nvm_problems(self) -> list[str]:
        never = threading.Event()
        flash = self._open_flash(never)
        try:
            return self.dialect.nvm_problems(self.profile, self.layout, flash, self._open_store(never), None)
        finally:
            flash.close()

    # -- UDS -------------------------------------------------------------------------------

    def send(self, request: bytes | str, *, functional: bool = False) -> bytes | None:
        payload = h(request) if isinstance(request, str) else request
        return self.core.handle(payload, functional=functional).response

    def unlock(self) -> None:
        level = self.profile.security.level
        seed = self.send(bytes([0x27, level]))
        assert seed is not None and seed[:2] == bytes([0x67, level]), seed
        key = xor_key(level, seed[2:], self.profile.security.key_params)
        assert self.send(bytes([0x27, level + 1]) + key) == bytes([0x67, level + 1])

    def enter_programming(self, *, fingerprint: bool = True) -> None:
        """Extended session, preconditions, programming session, unlocked, fingerprint written."""
        assert self.send("10 03")[:2] == h("50 03")
        assert self.send("31 01 02 03") == h("71 01 02 03 00")
        assert self.send("10 02")[:2] == h("50 02")
        self.unlock()
        if fingerprint:
            assert self.send(h("2E F1 5A") + FINGERPRINT) == h("6E F1 5A")

    def version(self) -> bytes | None:
        return self.send("22 F1 95")


def location(address: int, size: int) -> bytes:
    return b"\x44" + address.to_bytes(4, "big") + size.to_bytes(4, "big")


def erase(block) -> bytes:  # noqa: ANN001 - a LogicalBlock of the profile
    return h("31 01 FF 00") + location(block.address, block.size)


def check_crc(crc: int) -> bytes:
    return h("31 01 02 02") + crc.to_bytes(4, "big")


def software(version: str) -> list[tuple[int, bytes]]:
    """The (address, data) blocks of fixtures/software/eps-<version>.hex."""
    loaded = dialect_of("his").load_factory(SOFTWARE / f"eps-{version}.hex")
    return [(block.address, block.data) for block in loaded.blocks]


def download_block(ecu: HisSim, address: int, data: bytes, *, compress: bool = False,
                   block_length: int = 0x1000) -> None:
    """RequestDownload (plain or zlib), every TransferData, RequestTransferExit: each answered positively."""
    payload = zlib.compress(data) if compress else data
    assert ecu.send(bytes([0x34, 0x10 if compress else 0x00]) + location(address, len(data))) == h("74 20 10 02")
    for counter, start in enumerate(range(0, len(payload), block_length), start=1):
        answer = ecu.send(bytes([0x36, counter & 0xFF]) + payload[start:start + block_length])
        assert answer == bytes([0x76, counter & 0xFF]), f"block {counter}: {answer!r}"
    assert ecu.send("37") == h("77")


def program(ecu: HisSim, version: str, *, compress: bool = False) -> None:
    """The whole HIS sequence for ``version``, up to the check of dependencies (positive)."""
    ecu.enter_programming()
    for (address, data), block in zip(software(version), ecu.profile.memory.blocks):
        assert ecu.send(erase(block)) == h("71 01 FF 00 00")
        download_block(ecu, address, data, compress=compress)
        assert ecu.send(check_crc(zlib.crc32(data))) == h("71 01 02 02 00")
    assert ecu.send("31 01 FF 01") == h("71 01 FF 01 00")
