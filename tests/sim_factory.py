"""A virtual ECU without a bus, for server-level tests: UDS bytes in, UDS bytes out.

``SimEcu`` keeps flash and EEPROM in files (as ``bench.sim.ecu.VirtualEcu`` does) and builds
the RAM side — ``RecordStore``, ``BootManager``, ``DownloadManager``, ``SecurityAccess``,
``EcuCore`` — again at every ``power_on()``, so a test can cut power and see what survives.
Time is a ``FakeClock`` the test advances; nothing here sleeps.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.config.models import EcuProfile, MemoryLayout, SecurityConfig, Timing
from bench.image import AppDescriptor, FirmwareImage, build_image, load_private_key, load_public_key, sign_image
from bench.keys import xor_key
from bench.power.virtual import NOMINAL_VOLTAGE
from bench.sim.boot import BankLayout, BootManager
from bench.sim.download import DownloadManager
from bench.sim.nvm import Eeprom, FlashMemory
from bench.sim.record import BootloaderRecord, RecordStore
from bench.sim.security import SecurityAccess
from bench.sim.server import EcuCore

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "fixtures" / "keys"
FIRMWARE = ROOT / "fixtures" / "firmware"

REGION = 0x0008_0000  # download region start (logical address) of every test profile
REGION_SIZE = 0x0002_0000
SECTOR, PAGE = 4096, 256
SECRET = 0x5A3C7E11
LEVEL = 0x11
S3, LOCKOUT, P2, P2_STAR = 5.0, 10.0, 0.05, 2.0


class FakeClock:
    """A monotonic clock that only moves when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_profile(bootloader: str = "single_bank", **overrides: object) -> EcuProfile:
    """A small profile: 128 KiB region at 0x80000, xor key, 3 attempts, 10 s lockout, S3 5 s."""
    fields: dict[str, object] = {
        "bootloader": bootloader,
        "memory": MemoryLayout(address=REGION, size=REGION_SIZE),
        "security": SecurityConfig(level=LEVEL, key_params={"secret": SECRET}, max_attempts=3,
                                   lockout_delay=LOCKOUT),
        "timing": Timing(p2=P2, p2_star=P2_STAR, s3=S3),
        "trial_boots": 3,
    }
    fields.update(overrides)
    return EcuProfile(**fields)  # type: ignore[arg-type]


def recipe(name: str) -> FirmwareImage:
    """An image from fixtures/firmware/<name>.yaml (e.g. ``app-2.0.0``)."""
    return build_image(FIRMWARE / f"{name}.yaml")


def signed_image(version: str, *, security_version: int = 2, size: int = 8 * 1024,
                 self_test_passes: bool = True, key: str = "dev_ed25519.pem") -> FirmwareImage:
    """A small image signed with a key from fixtures/keys (the dev key is the trusted one)."""
    body = bytes((i * 7 + len(version)) & 0xFF for i in range(size - AppDescriptor.SIZE))
    payload = AppDescriptor(self_test_passes=self_test_passes).pack() + body
    return sign_image(payload, version=version, security_version=security_version,
                      private_key=load_private_key(KEYS / key))


def h(text: str) -> bytes:
    """``h("27 11")`` → b"\\x27\\x11"."""
    return bytes.fromhex(text)


class _RecordingEeprom(Eeprom):
    """An EEPROM that also keeps a copy of every record it stored, in order."""

    def __init__(self, path: Path, *, power_lost: threading.Event, writes: list[dict]) -> None:
        super().__init__(path, power_lost=power_lost)
        self._writes = writes

    def store(self, record: dict) -> None:
        super().store(record)
        self._writes.append(copy.deepcopy(record))


@dataclass
class _Nvm:
    flash: FlashMemory
    power_lost: threading.Event


class SimEcu:
    """Flash + EEPROM on disk; the bootloader and UDS server rebuilt at every power-on."""

    def __init__(self, directory: Path, profile: EcuProfile, *, factory_image: FirmwareImage | None = None,
                 sector_size: int = SECTOR, page_size: int = PAGE, clock: FakeClock | None = None) -> None:
        self.profile = profile
        self.clock = clock or FakeClock()
        self.sector_size, self.page_size = sector_size, page_size
        self.layout = BankLayout(profile, sector_size)
        self.flash_path = directory / "ecu.flash"
        self.eeprom_path = directory / "ecu.eeprom.json"
        self.trusted_key = load_public_key(KEYS / "dev_ed25519.pub.pem")
        self.probe_hits: Counter[str] = Counter()
        """How often each probe point was reached since the last ``probe_hits.clear()``."""
        self.eeprom_writes: list[dict] = []
        """Every bootloader record stored since the factory, in order (survives power cycles)."""
        self.on_probe: Callable[[str, int], None] | None = None
        """Called at every probe point (e.g. to cut power with ``cut_power``)."""
        self.voltage = NOMINAL_VOLTAGE
        """The supply voltage the server sees (programming is refused outside 9-16 V)."""
        self._nvm: _Nvm | None = None
        if factory_image is not None:
            self._factory_program(factory_image)
        self.power_on()

    # -- power -----------------------------------------------------------------------------

    def _factory_program(self, image: FirmwareImage) -> None:
        """As ``VirtualEcu._factory_program``: bank A holds the image, valid, anti-rollback set."""
        flash = self._open_flash(threading.Event())
        try:
            flash.program(0, image.to_bytes())
        finally:
            flash.close()
        store = RecordStore(Eeprom(self.eeprom_path, power_lost=threading.Event()), self.layout.bank_count)
        bank = store.record.banks[0]
        bank.valid, bank.version, bank.security_version = True, image.header.version, image.header.security_version
        store.record.anti_rollback = image.header.security_version
        store.save()

    def _open_flash(self, power_lost: threading.Event) -> FlashMemory:
        return FlashMemory(self.flash_path, self.layout.flash_size, self.sector_size, self.page_size,
                           power_lost=power_lost, probe=self._probe)

    def _probe(self, point: str, index: int) -> None:
        self.probe_hits[point] += 1
        if self.on_probe is not None:
            self.on_probe(point, index)

    def power_on(self) -> EcuCore:
        """A new power-on (or reset): RAM state is rebuilt from flash and EEPROM, then the bootloader starts."""
        self.close()
        power_lost = threading.Event()
        self._nvm = _Nvm(self._open_flash(power_lost), power_lost)
        eeprom = _RecordingEeprom(self.eeprom_path, power_lost=power_lost, writes=self.eeprom_writes)
        self.store = RecordStore(eeprom, self.layout.bank_count)
        self.boot = BootManager(self.profile, self.layout, self._nvm.flash, self.store, self.trusted_key, self._probe)
        self.download = DownloadManager(self.profile, self.layout, self._nvm.flash, self.store, self.boot)
        self.security = SecurityAccess(self.profile.security, xor_key, self.store, clock=self.clock)
        self.core = EcuCore("bcm", self.profile, self.store, self.boot, self.download, self.security,
                            clock=self.clock, voltage=lambda: self.voltage)
        self.boot.start()
        return self.core

    def cut_power(self) -> None:
        """From a probe: the operation in progress stops as a real power loss stops it."""
        assert self._nvm is not None
        self._nvm.power_lost.set()

    def close(self) -> None:
        if self._nvm is not None:
            self._nvm.flash.close()
            self._nvm = None

    # -- observation -----------------------------------------------------------------------

    @property
    def flash(self) -> FlashMemory:
        assert self._nvm is not None
        return self._nvm.flash

    @property
    def record(self) -> BootloaderRecord:
        """The bootloader record as stored in EEPROM (not the RAM copy)."""
        return RecordStore(Eeprom(self.eeprom_path, power_lost=threading.Event()), self.layout.bank_count).record

    def bank_bytes(self, bank: int, length: int) -> bytes:
        return self.flash.read(self.layout.offset(bank), length)

    # -- UDS -------------------------------------------------------------------------------

    def send(self, request: bytes | str, *, functional: bool = False) -> bytes | None:
        """One request through the server; the response bytes (None when it sends none)."""
        payload = h(request) if isinstance(request, str) else request
        return self.core.handle(payload, functional=functional).response

    def unlock(self) -> None:
        seed = self.send(f"27 {LEVEL:02X}")
        assert seed is not None and seed[:2] == bytes([0x67, LEVEL]), seed
        key = xor_key(LEVEL, seed[2:], {"secret": SECRET})
        assert self.send(bytes([0x27, LEVEL + 1]) + key) == bytes([0x67, LEVEL + 1])

    def enter_programming(self, *, unlock: bool = True) -> None:
        """Extended, then programming session (the application jumps to the bootloader), unlocked."""
        assert self.send("10 03")[:2] == h("50 03")
        assert self.send("10 02")[:2] == h("50 02")
        if unlock:
            self.unlock()


def location(address: int, size: int) -> bytes:
    """addressAndLengthFormatIdentifier 0x44, 4-byte address, 4-byte size."""
    return b"\x44" + address.to_bytes(4, "big") + size.to_bytes(4, "big")


def erase(address: int, size: int) -> bytes:
    return h("31 01 FF 00") + location(address, size)


def request_download(address: int, size: int) -> bytes:
    return h("34 00") + location(address, size)


def transfer(counter: int, data: bytes) -> bytes:
    return bytes([0x36, counter & 0xFF]) + data


def check_memory() -> bytes:
    return h("31 01 02 02")


def check_dependencies() -> bytes:
    return h("31 01 FF 01")


def blocks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def download(ecu: SimEcu, data: bytes, *, block: int | None = None) -> None:
    """Erase, RequestDownload, every TransferData, RequestTransferExit — each answered positively."""
    block = block or ecu.profile.max_block_length - 2
    assert ecu.send(erase(REGION, len(data))) == h("71 01 FF 00 00")
    assert ecu.send(request_download(REGION, len(data)))[:1] == h("74")
    for counter, chunk in enumerate(blocks(data, block), start=1):
        assert ecu.send(transfer(counter, chunk)) == bytes([0x76, counter & 0xFF]), f"block {counter}"
    assert ecu.send("37") == h("77")


def install(ecu: SimEcu, image: FirmwareImage) -> bytes | None:
    """Program session, full download, check dependencies: the routine's response."""
    ecu.enter_programming()
    download(ecu, image.to_bytes())
    return ecu.send(check_dependencies())
