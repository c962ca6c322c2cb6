"""The bootloaders' EEPROM records are saved as ``dataclasses.asdict`` would write them, and read
back the same."""

from __future__ import annotations

import threading
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from bench.sim.dialects.his.memory import BlockRecord, HisRecord
from bench.sim.nvm import Eeprom
from bench.sim.record import BankRecord, BootloaderRecord, RecordStore, plain_record


def every_field_set() -> BootloaderRecord:
    record = BootloaderRecord(banks=[BankRecord(True, "2.1.0", 7), BankRecord(False, "1.0.0", 1)])
    for number, field in enumerate(fields(BootloaderRecord), 1):
        if field.name == "banks":
            continue
        kind = type(getattr(record, field.name))
        value = {bool: True, int: number, str: f"v{number}"}.get(kind, number)  # None-defaulted: an int
        setattr(record, field.name, value)
    return record


def test_a_record_is_saved_as_asdict_writes_it_and_read_back_the_same(tmp_path: Path) -> None:
    record = every_field_set()
    assert plain_record(record) == asdict(record)
    store = RecordStore(Eeprom(tmp_path / "e", power_lost=threading.Event()), 2)
    store.record = record
    store.save()
    assert RecordStore(Eeprom(tmp_path / "e", power_lost=threading.Event()), 2).record == record


def test_a_saved_record_shares_nothing_with_the_live_one() -> None:
    record = every_field_set()
    saved = plain_record(record)
    record.banks[0].version = "9.9.9"
    record.banks.append(BankRecord())
    assert saved["banks"] == [asdict(BankRecord(True, "2.1.0", 7)), asdict(BankRecord(False, "1.0.0", 1))]


def test_a_his_record_is_saved_as_asdict_writes_it() -> None:
    record = HisRecord(blocks=[BlockRecord(True, 0x10000, 0x30000, 0xDEADBEEF), BlockRecord()],
                       application_valid=True, security_failures=2, fingerprint="00ff")
    assert plain_record(record) == asdict(record)


def test_a_value_a_record_cannot_hold_is_refused() -> None:
    record = every_field_set()
    record.fingerprint = {"not": "plain"}  # type: ignore[assignment]
    with pytest.raises(TypeError, match="not dict"):
        plain_record(record)
