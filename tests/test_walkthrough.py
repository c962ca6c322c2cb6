"""README "Flash specifications", followed literally: the ACME ECU, whose bootloader is set up unlike
the shipped ``his`` one (its own routine ids, a 3-byte ALFID 0x33 erase record, no compression,
security level 0x01), flashed from an Intel HEX file by ``ota-bench flash`` and by the ``flasher``
fixture, with a flash spec in YAML and no Python but the key function."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.config import load_bench
from bench.config.flash_spec import LogicalBlocksStep, RoutineStep, shipped_spec

ROOT = Path(__file__).resolve().parents[1]
WALKTHROUGH = ROOT / "fixtures" / "walkthrough"
BENCH = WALKTHROUGH / "acme-bench.yaml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(WALKTHROUGH), "CI": "1"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def routine_ids(spec) -> set[int]:
    blocks = spec.blocks
    return {s.routine_id for s in spec.steps if isinstance(s, RoutineStep)} | \
        {r.routine_id for r in (blocks.erase, blocks.check) if r is not None}


def test_the_walkthrough_bootloader_is_not_the_shipped_his_one(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(WALKTHROUGH))
    acme = load_bench(BENCH).profiles["acme"].flash_spec
    his = shipped_spec("his")
    assert routine_ids(acme).isdisjoint(routine_ids(his))
    assert (acme.blocks.erase.address_bytes, acme.blocks.erase.length_bytes) == (3, 3)
    assert his.blocks.download.compression and not acme.blocks.download.compression
    assert [s for s in acme.steps if isinstance(s, LogicalBlocksStep)] and len(acme.memory_map) == 2


def test_ota_bench_flash_flashes_the_hex_file_by_the_users_spec() -> None:
    done = run("-m", "bench", "flash", "--bench", str(BENCH), "--ecu", "acme",
               "--file", str(WALKTHROUGH / "acme-app-2.0.0.hex"), "--expect-version", "2.0.0")
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("write fingerprint", "erase application", "check CRC of application", "erase calibration",
                 "check CRC of calibration", "check programming dependencies", "read version after"):
        assert step in done.stdout
    assert "acme: version 2.0.0" in done.stdout


def test_ota_bench_flash_exits_1_when_the_ecu_runs_another_version() -> None:
    done = run("-m", "bench", "flash", "--bench", str(BENCH), "--ecu", "acme",
               "--file", str(WALKTHROUGH / "acme-app-2.0.0.hex"), "--expect-version", "3.0.0")
    assert done.returncode == 1 and "ECU failure" in done.stderr


def test_the_flasher_fixture_flashes_the_hex_file_by_the_users_spec() -> None:
    done = run("-m", "pytest", str(WALKTHROUGH / "flash_acme.py"), "--bench", str(BENCH),
               "-p", "no:randomly", "-p", "no:cacheprovider", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
