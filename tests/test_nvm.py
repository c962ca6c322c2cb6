"""The virtual ECU's flash and EEPROM: NOR semantics, persistence, torn writes on power loss."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.sim.nvm import WRITE_PIECE, Eeprom, FlashMemory, FlashProgrammingError, PowerLost

SIZE, SECTOR, PAGE = 4096, 1024, 256

FlashFactory = Callable[..., FlashMemory]


@pytest.fixture
def power_lost() -> threading.Event:
    return threading.Event()


@pytest.fixture
def make_flash(tmp_path: Path, power_lost: threading.Event) -> Iterator[FlashFactory]:
    opened: list[FlashMemory] = []

    def make(**options: object) -> FlashMemory:
        flash = FlashMemory(tmp_path / "flash.bin", SIZE, SECTOR, PAGE, power_lost=power_lost, **options)
        opened.append(flash)
        return flash

    yield make
    for flash in opened:
        flash.close()


def cut_power_at(power_lost: threading.Event, point: str, index: int) -> Callable[[str, int], None]:
    def probe(name: str, at: int) -> None:
        if (name, at) == (point, index):
            power_lost.set()
    return probe


def test_new_flash_is_fully_erased(make_flash: FlashFactory) -> None:
    flash = make_flash()
    assert flash.read(0, SIZE) == b"\xff" * SIZE
    assert flash.is_erased(0, SIZE)


def test_program_then_read_back(make_flash: FlashFactory) -> None:
    flash = make_flash()
    data = bytes(range(256)) * 3 + b"tail"  # ends mid-page
    flash.program(PAGE, data)
    assert flash.read(PAGE, len(data)) == data
    assert flash.read(0, PAGE) == b"\xff" * PAGE
    assert flash.read(PAGE + len(data), 16) == b"\xff" * 16
    assert not flash.is_erased(PAGE, PAGE)


def test_programming_can_only_clear_bits(make_flash: FlashFactory) -> None:
    flash = make_flash()
    flash.program(0, b"\x0f")
    flash.program(0, b"\x05")  # clears bits only: allowed
    assert flash.read(0, 1) == b"\x05"
    with pytest.raises(FlashProgrammingError, match="not erased"):
        flash.program(0, b"\xf0")  # would set bits 0->1
    assert flash.read(0, 1) == b"\x05"


def test_programming_over_data_writes_nothing_to_that_page(make_flash: FlashFactory) -> None:
    flash = make_flash()
    flash.program(PAGE, b"\x00" * PAGE)
    with pytest.raises(FlashProgrammingError):
        flash.program(0, b"\x11" * (2 * PAGE))
    assert flash.read(0, PAGE) == b"\x11" * PAGE  # the page before the bad one is programmed
    assert flash.read(PAGE, PAGE) == b"\x00" * PAGE


def test_erase_restores_only_its_sector(make_flash: FlashFactory) -> None:
    flash = make_flash()
    flash.program(0, b"\x00" * SIZE)
    flash.erase(SECTOR, SECTOR)
    assert flash.read(SECTOR, SECTOR) == b"\xff" * SECTOR
    assert flash.read(0, SECTOR) == b"\x00" * SECTOR
    assert flash.read(2 * SECTOR, 2 * SECTOR) == b"\x00" * (2 * SECTOR)


def test_content_survives_a_new_instance(make_flash: FlashFactory) -> None:
    first = make_flash()
    first.program(2 * SECTOR, b"firmware")
    first.close()
    assert make_flash().read(2 * SECTOR, 8) == b"firmware"


def test_power_cut_mid_page_tears_it_and_stops(make_flash: FlashFactory, power_lost: threading.Event) -> None:
    flash = make_flash(probe=cut_power_at(power_lost, "program_page_half", 2))
    with pytest.raises(PowerLost):
        flash.program(0, b"\x00" * SIZE)
    assert flash.read(0, 2 * PAGE) == b"\x00" * (2 * PAGE)
    assert flash.read(2 * PAGE, PAGE // 2) == b"\x00" * (PAGE // 2)
    assert flash.read(2 * PAGE + PAGE // 2, SIZE - 2 * PAGE - PAGE // 2) == b"\xff" * (SIZE - 2 * PAGE - PAGE // 2)


def test_power_cut_before_a_sector_erase_leaves_it_and_the_rest(
        make_flash: FlashFactory, power_lost: threading.Event) -> None:
    flash = make_flash(probe=cut_power_at(power_lost, "erase_sector", 2))
    flash.program(0, b"\x00" * SIZE)
    with pytest.raises(PowerLost):
        flash.erase(0, SIZE)
    assert flash.is_erased(0, 2 * SECTOR)
    assert flash.read(2 * SECTOR, 2 * SECTOR) == b"\x00" * (2 * SECTOR)


def test_power_cut_mid_erase_tears_the_sector(make_flash: FlashFactory, power_lost: threading.Event) -> None:
    flash = make_flash(probe=cut_power_at(power_lost, "erase_sector_half", 1))
    flash.program(0, b"\x00" * SIZE)
    with pytest.raises(PowerLost):
        flash.erase(0, SIZE)
    assert flash.is_erased(0, SECTOR + SECTOR // 2)
    assert flash.read(SECTOR + SECTOR // 2, SIZE - SECTOR - SECTOR // 2) == b"\x00" * (SIZE - SECTOR - SECTOR // 2)


def test_no_operation_starts_once_power_is_lost(make_flash: FlashFactory, power_lost: threading.Event) -> None:
    flash = make_flash()
    power_lost.set()
    with pytest.raises(PowerLost):
        flash.program(0, b"\x00")
    with pytest.raises(PowerLost):
        flash.erase(0, SECTOR)
    assert flash.read(0, 1) == b"\xff"


def test_power_cut_interrupts_a_long_erase(make_flash: FlashFactory, power_lost: threading.Event) -> None:
    flash = make_flash(erase_time_per_sector=5.0)
    cut = threading.Timer(0.05, power_lost.set)
    cut.start()
    try:
        with pytest.raises(PowerLost):
            flash.erase(0, SECTOR)
    finally:
        cut.cancel()


@pytest.mark.parametrize(("offset", "length"), [(1, SECTOR), (0, SECTOR - 1), (SIZE, SECTOR), (-SECTOR, SECTOR)])
def test_erase_rejects_misaligned_or_outside_ranges(make_flash: FlashFactory, offset: int, length: int) -> None:
    flash = make_flash()
    with pytest.raises(FlashProgrammingError, match=f"{offset:#x}"):
        flash.erase(offset, length)


@pytest.mark.parametrize(("offset", "length"), [(1, 4), (SIZE - PAGE, PAGE + 1)])
def test_program_rejects_misaligned_or_outside_ranges(make_flash: FlashFactory, offset: int, length: int) -> None:
    flash = make_flash()
    with pytest.raises(FlashProgrammingError, match=f"length {length:#x}"):
        flash.program(offset, b"\x00" * length)
    assert flash.is_erased(0, SIZE)


@pytest.mark.parametrize(("size", "sector", "page"), [(4000, 1024, 256), (4096, 1000, 256)])
def test_inconsistent_geometry_is_refused(tmp_path: Path, size: int, sector: int, page: int) -> None:
    with pytest.raises(ValueError):
        FlashMemory(tmp_path / "flash.bin", size, sector, page, power_lost=threading.Event())


def test_eeprom_is_empty_until_written(tmp_path: Path, power_lost: threading.Event) -> None:
    assert Eeprom(tmp_path / "eeprom.json", power_lost=power_lost).load() == {}


def test_eeprom_record_survives_a_new_instance(tmp_path: Path, power_lost: threading.Event) -> None:
    record = {"active_bank": 1, "banks": [{"valid": True, "version": "2.0.1"}], "pending_bank": None}
    Eeprom(tmp_path / "eeprom.json", power_lost=power_lost).store(record)
    assert Eeprom(tmp_path / "eeprom.json", power_lost=power_lost).load() == record


def test_eeprom_refuses_to_store_after_power_loss(tmp_path: Path, power_lost: threading.Event) -> None:
    eeprom = Eeprom(tmp_path / "eeprom.json", power_lost=power_lost)
    eeprom.store({"boot_attempts": 1})
    power_lost.set()
    with pytest.raises(PowerLost):
        eeprom.store({"boot_attempts": 2})
    assert eeprom.load() == {"boot_attempts": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["eeprom.json"]


def test_eeprom_write_torn_by_a_killed_process_reads_back_the_previous_record(tmp_path: Path) -> None:
    path = tmp_path / "boot.eeprom"
    eeprom = Eeprom(path, power_lost=threading.Event())
    eeprom.store({"committed": 1})
    eeprom.store({"committed": 2})
    with open(path, "r+b") as raw:  # the newest slot (sequence 2 -> slot 0) half written
        raw.seek(Eeprom.SLOT_SIZE * 0 + 20)
        raw.write(b"\x00\x00")

    assert Eeprom(path, power_lost=threading.Event()).load() == {"committed": 1}


def test_new_flash_larger_than_one_erased_write_is_erased_to_its_exact_size(tmp_path: Path,
                                                                             power_lost: threading.Event) -> None:
    size = 2 * WRITE_PIECE + 2 * SECTOR  # written in pieces, the last one partial
    flash = FlashMemory(tmp_path / "big.bin", size, SECTOR, PAGE, power_lost=power_lost)
    try:
        assert (tmp_path / "big.bin").stat().st_size == size
        assert flash.is_erased(0, size)
    finally:
        flash.close()
