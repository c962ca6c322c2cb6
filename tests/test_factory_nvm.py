"""A virtual ECU's factory NVM, copied from the first ECU of its kind in the process, is the same
bytes as one erased and programmed anew; the copy is only ever made into absent files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import load_bench
from bench.sim import factory_nvm
from bench.sim.factory import build_virtual_ecu

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config():
    return load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")


def nvm_of(config, name: str, directory: Path) -> tuple[bytes, bytes]:
    ecu = build_virtual_ecu(config, name, nvm_dir=directory, channel="unused")
    return ecu.flash_path.read_bytes(), ecu.eeprom_path.read_bytes()


@pytest.mark.parametrize("name", ["bcm", "bms", "eps"])
def test_a_copied_factory_nvm_is_the_programmed_one(config, name: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory_nvm, "_images", {})
    programmed = nvm_of(config, name, tmp_path / "first")
    copied = nvm_of(config, name, tmp_path / "second")
    assert copied == programmed
    assert programmed[0].count(0xFF) < len(programmed[0])  # the factory software is in it
    if name != "eps":  # a loaded software file is not a key: the EPS is programmed every time
        assert len(factory_nvm._images) == 1


def test_a_copy_is_made_only_into_absent_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory_nvm, "_images", {})
    programs: list[Path] = []

    def program(flash: Path, eeprom: Path, content: bytes):
        def run() -> None:
            programs.append(flash)
            flash.write_bytes((flash.read_bytes() if flash.exists() else b"") + content)
            eeprom.write_bytes(b"record")
        return run

    for n in (1, 2):
        flash, eeprom = tmp_path / f"{n}.flash", tmp_path / f"{n}.eeprom"
        factory_nvm.factory_nvm("kind", flash, eeprom, program(flash, eeprom, b"image"))
        assert (flash.read_bytes(), eeprom.read_bytes()) == (b"image", b"record")
    assert programs == [tmp_path / "1.flash"]  # the second ECU got a copy
    flash, eeprom = tmp_path / "3.flash", tmp_path / "3.eeprom"
    flash.write_bytes(b"old ")
    factory_nvm.factory_nvm("kind", flash, eeprom, program(flash, eeprom, b"image"))
    assert flash.read_bytes() == b"old image"  # programmed over what was there, not replaced
    factory_nvm.factory_nvm(None, tmp_path / "4.flash", tmp_path / "4.eeprom",
                            program(tmp_path / "4.flash", tmp_path / "4.eeprom", b"image"))
    assert programs[-1] == tmp_path / "4.flash"  # no key: programmed
