"""Issue 13's acceptance, as an outsider runs it: Orion (``fixtures/foreign/orion_ecu.py``), a bootloader
written outside the bench that imports nothing of it, in a dialect of its own (erase 0xFF00 by a 1-byte
block index, check 0x0202 with the block index and a CRC-32, fingerprint DID 0xF184 before any erase,
three logical blocks, a 4-byte maxNumberOfBlockLength, 0x78 during erase, 0x21 busyRepeatRequest to the
first version read after a start, 0x37 to requestSeed for 1 s after a start (its security delay timer),
a RequestTransferExit answer with a parameter record), started by ``driver: process`` and reached over SLCAN over TCP. Its flash spec
and bench file were written from the README alone; the only Python is the key function. Flashed from
Intel HEX and S-record by ``ota-bench flash`` and by the ``flasher`` fixture, cut (SIGKILL) in the
middle and flashed again, and cut or disturbed at steps of its scenario catalogs."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.config import load_bench

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
FOREIGN = ROOT / "fixtures" / "foreign"
BENCH = FOREIGN / "orion-bench.yaml"
CATALOGS = FOREIGN / "scenarios"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(FOREIGN), "CI": "1"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_bootloader_imports_nothing_of_the_bench() -> None:
    tree = ast.parse((FOREIGN / "orion_ecu.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert "bench" not in imported and {"can", "isotp"} <= imported


def test_the_profile_takes_its_logical_blocks_from_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FOREIGN))
    profile = load_bench(BENCH).profiles["orion"]
    assert [(block.name, block.address) for block in profile.memory.blocks] == [
        ("application", 0x08004000), ("calibration", 0x08040000), ("parameters", 0x08070000)]


@pytest.mark.parametrize("software", ["orion-app-2.1.0.hex", "orion-app-2.1.0.s37"])
def test_ota_bench_flash_flashes_the_software_file(software: str) -> None:
    done = run("-m", "bench", "flash", "--bench", str(BENCH), "--ecu", "orion", "--file", str(FOREIGN / software),
               "--expect-version", "2.1.0")
    assert done.returncode == 0, done.stdout + done.stderr
    steps = [" ".join(line.split()[3:5]) for line in done.stdout.splitlines() if line.endswith(")")]
    assert [step for step in steps if step.startswith(("write", "erase"))] == [
        "write fingerprint", "erase application", "erase calibration", "erase parameters"]
    assert "orion: version 2.1.0" in done.stdout


def test_the_flasher_fixture_and_power_cuts_of_the_catalog() -> None:
    """flash_orion.py (the flasher fixture: HEX, S-record, a cut in the middle and the next flash),
    catalog points whose requests are Orion's own (fingerprint 0xF184, erase and check by block index)
    and corrupted frames of a check request through the bench's CAN gateway."""
    points = ("fingerprint", "erase@1", "block:3@0", "check_block@2", "check")
    ids = [f"{CATALOGS}/orion-power-loss.yaml::orion-power-loss[orion-full-power_cut@{at}]" for at in points]
    ids.append(f"{CATALOGS}/orion-network.yaml::orion-network[orion-full-corruption@check_block@2-s0]")
    done = run("-m", "pytest", str(FOREIGN / "flash_orion.py"), *ids, "--bench", str(BENCH),
               "-p", "no:randomly", "-p", "no:cacheprovider", "-q")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "10 passed" in done.stdout
