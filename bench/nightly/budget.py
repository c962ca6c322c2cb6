"""The time budget of a run (``--run-budget SECONDS``): once spent, the tests not yet started are
skipped with a reason that says so, and the run ends as interrupted, never as a quiet smaller run.

The clock starts when the process that owns the run starts (pytest-xdist workers get its start
time), so every worker stops at the same moment. A test that started in time runs to its end;
``--timeout`` bounds it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RunBudget:
    seconds: float
    started: float
    """``time.time()`` when the run started."""

    def spent(self) -> bool:
        return time.time() - self.started >= self.seconds

    def reason(self) -> str:
        return f"run budget of {self.seconds:g} s spent (--run-budget): not started"
