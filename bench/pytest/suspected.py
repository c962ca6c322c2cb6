"""A failed test's finding turned into a ``SuspectedBenchFault`` when its evidence lays it at the
bench's door (``bench.report.suspicion``). Shared by catalog scenario items (``collect``) and
tests on the bench (``report_hooks``); the suspicion is worked out while the bench is still up,
and the finding replaced when it reaches pytest."""

from __future__ import annotations

import pytest

from bench.errors import SuspectedBenchFault
from bench.report.evidence import attach_text
from bench.report.suspicion import Suspicion, is_ecu_finding

SUSPICION = pytest.StashKey["Suspicion | None"]()
"""What the failed test's evidence says against the bench (None: nothing)."""


def suspected_instead(item: pytest.Item, finding: BaseException) -> SuspectedBenchFault | None:
    """The ``SuspectedBenchFault`` to report instead of ``finding``, an ECU finding the evidence
    doubts; None to report ``finding`` as it is. Its details go with it (section, attachment)."""
    suspicion = item.stash.get(SUSPICION, None)
    if suspicion is None or not is_ecu_finding(finding):
        return None
    state = getattr(finding, "ecu_state", "")
    details = (f"{suspicion.details}\n\nthe failure it stands for:\n{type(finding).__name__}: {finding}"
               + (f"\n{state}" if state else ""))
    attach_text(item, {"suspected bench fault": f"{suspicion.reason}\n{details}"})
    return SuspectedBenchFault(suspicion.reason, finding, details=details)
