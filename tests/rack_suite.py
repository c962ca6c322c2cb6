"""Racks for the nightly-run tests: copies of the virtual bench under other names, and racks with
a real ECU powered by a SCPI supply (a simulator the test controls) next to the virtual ones."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.instruments import ScpiSupplySimulator

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"
SILENCE = 0.2
"""Seconds the SCPI supply of a test rack may take to answer (it is local: never reached when it answers)."""

AUX_SUPPLY = """\
  kl30_aux:
    driver: scpi
    url: "{url}"
    timeout: {timeout}
"""
AUX_ECU = """
  aux:                          # a real ECU on the body bus, on a SCPI supply
    bus: body
    request_id: 0x7E2
    response_id: 0x7EA
    power: kl30_aux
    profile: single-bank
"""


def virtual_rack(directory: Path, name: str, *, supply_url: str | None = None, only: str | None = None) -> Path:
    """``directory/<name>.yaml``: the virtual bench named ``name``; with ``supply_url`` it also has
    ECU ``aux`` on a SCPI supply there (every bench start switches it on); with ``only`` it has
    just that one of the virtual ECUs."""
    text = (BENCH.read_text().replace("name: virtual-bench", f"name: {name}")
            .replace("../../dbc/", f"{REPO / 'dbc'}/").replace("../keys/", f"{REPO / 'fixtures' / 'keys'}/")
            .replace("../firmware/", f"{REPO / 'fixtures' / 'firmware'}/")
            .replace("../software/", f"{REPO / 'fixtures' / 'software'}/"))
    if only is not None:
        head, _, ecus = text.partition("\necus:\n")
        entries = re.split(r"(?m)^(?=  \w)", ecus)  # each ECU's entry, from its name to the next one's
        text = head + "\necus:\n" + "".join(entry for entry in entries if entry.startswith(f"  {only}:"))
    if supply_url is not None:
        text = text.replace("power:\n", "power:\n" + AUX_SUPPLY.format(url=supply_url, timeout=SILENCE), 1) + AUX_ECU
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def bcm_project(directory: Path, files: dict[str, str]) -> Path:
    """``directory`` as a project: the rack ``rack.yaml`` with the BCM alone, the repository's
    fixtures (the firmware recipes catalogs name) and ``files`` (relative name → text)."""
    virtual_rack(directory, "rack", only="bcm")
    (directory / "fixtures").symlink_to(REPO / "fixtures")
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


def mutant_rack(directory: Path, ecu: str, mutant: str | None) -> Path:
    """``directory/<mutant>.yaml``: the virtual bench with ``mutant`` (a name of
    ``bench.sim.mutants.MUTANTS``; None: the reference) as the bootloader of ``ecu``."""
    path = virtual_rack(directory, mutant or "reference")
    if mutant is None:
        return path
    text = path.read_text()
    virtual = text.index("    virtual:", text.index(f"  {ecu}:\n    bus:"))
    end = text.index("\n", virtual) + 1
    path.write_text(text[:end] + f"      mutant: {mutant}\n" + text[end:])
    return path


class SupplyThatStopsAnswering(ScpiSupplySimulator):
    """A SCPI supply that answers its first ``answers`` queries, then goes silent (a bench start
    on the rack asks one: the output's state after switching it on)."""

    def __init__(self, answers: int) -> None:
        self.answers = answers
        super().__init__()

    def handle(self, line: str) -> str:
        if "?" in line:
            if self.answers <= 0:
                self.mute()
                return ""
            self.answers -= 1
        return super().handle(line)


def run_pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess on the suite in ``directory`` (allure-pytest and pytest-xdist need their own)."""
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(directory),
                           "--rack-locks", str(directory / "locks"), *args], cwd=directory, capture_output=True,
                          text=True, timeout=300, check=False)


def allure_results(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in directory.glob("*-result.json")]
