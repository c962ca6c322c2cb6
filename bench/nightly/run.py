"""What every process of one run shares: the run's id and the time it started.

The process that owns the run (the pytest-xdist controller, or the only process) makes them
and hands them to its workers; the id names the run's quarantine book, the start time is where
``--run-budget`` counts from.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest

WORKERINPUT_KEY = "ota_bench_run"


@dataclass(frozen=True)
class RunInfo:
    id: str
    started: float
    """``time.time()`` when the run started."""
    worker: int
    """This process's pytest-xdist worker number (``gw3`` → 3); 0 without workers."""

    def for_workers(self) -> dict[str, object]:
        return {"id": self.id, "started": self.started}


RUN = pytest.StashKey[RunInfo]()


def run_info(config: pytest.Config) -> RunInfo:
    if RUN not in config.stash:
        workerinput = getattr(config, "workerinput", {})
        shared = workerinput.get(WORKERINPUT_KEY)
        if shared is not None:
            worker = int(str(workerinput["workerid"]).removeprefix("gw"))
            config.stash[RUN] = RunInfo(str(shared["id"]), float(shared["started"]), worker)
        else:
            config.stash[RUN] = RunInfo(uuid.uuid4().hex, time.time(), 0)
    return config.stash[RUN]
