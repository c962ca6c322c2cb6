"""Under deliberate overload, no ECU verdict is the host's, and a late-answering ECU is still caught.

The test loads the machine itself: busy processes at normal priority, three per core (a load
like the CI host's that once failed good ECUs), started before and stopped after. Then it plays
a sample of the shipped catalogs against the reference virtual ECUs, and the catalog scenarios
that catch the ``late_programming_session`` mutant against that mutant. A reference scenario may pass
or end as ``HostOverloaded`` (the host made an answer late: a bench fault); it must never end
as an ECU finding. The mutant must be found as the ECU's defect every time.

Too slow for ``make test`` (minutes: see the figure in benchmarks/README.md): a nightly job runs it with
``OTA_OVERLOAD_RUN=1 .venv/bin/pytest tests/test_overload.py -p no:xdist -s``.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.errors import BenchFault, HostOverloaded
from bench.image.builders import delta_builder, firmware_builder
from bench.scenarios.campaign_catalog import ecu_catalogs
from bench.scenarios.catalog import load_catalog
from bench.scenarios.runner import play

REPO = Path(__file__).resolve().parents[1]
SAMPLE = int(os.environ.get("OTA_OVERLOAD_SAMPLE", "40"))
BUSY_PER_CORE = 3
MUTANT_SCENARIOS = [("power-loss", "bcm-full-power_cut@page:77"), ("power-loss", "bms-full-power_cut@block:2")]

pytestmark = pytest.mark.skipif(os.environ.get("OTA_OVERLOAD_RUN") != "1",
                                reason="nightly: set OTA_OVERLOAD_RUN=1 (loads every core for minutes)")


def busy_processes(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def verdict(config: BenchConfig, scenario, workdir: Path) -> str:  # noqa: ANN001
    try:
        play(config, scenario, firmware_builder(REPO), workdir=workdir, deltas=delta_builder(REPO))
    except HostOverloaded:
        return "host overloaded"
    except BenchFault:
        return "other bench fault"
    except Exception as finding:  # an OutcomeViolation, a FlashError...: a verdict against the ECU
        return f"ECU finding: {type(finding).__name__}"
    return "passed"


def with_mutant(config: BenchConfig, ecu: str, mutant: str) -> BenchConfig:
    original = config.ecus[ecu]
    virtual = original.virtual.model_copy(update={"mutant": mutant})
    return config.model_copy(update={"ecus": {**config.ecus, ecu: original.model_copy(update={"virtual": virtual})}})


@pytest.mark.timeout(1800)
def test_overloaded_host_gives_no_false_ecu_verdict_and_the_late_mutant_is_caught(tmp_path: Path) -> None:
    logging.disable(logging.ERROR)  # can-isotp narrates every timeout
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    kinds = {name: config.profiles[ecu.profile].bootloader for name, ecu in config.ecus.items()}
    shipped = {(s.campaign, s.id): s for path in ecu_catalogs(REPO / "testcases" / "scenarios")
               for s in load_catalog(path, ecus=kinds, delta_ecus=["bms", "bcm"])}
    sample = random.Random(17).sample(sorted(shipped), SAMPLE)
    load = busy_processes(BUSY_PER_CORE * (os.cpu_count() or 1))
    started = time.monotonic()
    try:
        reference = {key: verdict(config, shipped[key], tmp_path / f"ref-{n}") for n, key in enumerate(sample)}
        mutant = {key: verdict(with_mutant(config, shipped[key].ecu, "late_programming_session"), shipped[key],
                               tmp_path / f"mut-{n}") for n, key in enumerate(MUTANT_SCENARIOS)}
        machine_load = os.getloadavg()[0]
    finally:
        for process in load:
            process.kill()
        for process in load:
            process.wait()
    print(f"\n{len(load)} busy processes, load average {machine_load:.1f}, {time.monotonic() - started:.0f} s: "
          f"reference {dict(Counter(reference.values()))}; late_programming_session mutant {mutant}")
    false_verdicts = {key: v for key, v in reference.items() if v.startswith("ECU finding")}
    assert not false_verdicts, f"ECU verdicts on reference ECUs under load: {false_verdicts}"
    assert all(v.startswith("ECU finding") for v in mutant.values()), f"the late mutant not caught: {mutant}"
