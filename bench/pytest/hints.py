"""Hints a failed test's report gets from the bench: "the ECU is unpowered" when the test failed
on an ECU that did not answer (a P2 timeout, in a ``FlashError`` or not) while the supply of an
ECU it talked to was off — a test that cut power and forgot to restore it. The hint is a section
of the failure (``ECU unpowered``) and begins its one-line summary."""

from __future__ import annotations

import pytest
from udsoncan.exceptions import TimeoutException

from bench.rig import Bench

SECTION = "ECU unpowered"


def _silent_ecu(error: BaseException | None) -> bool:
    """Whether ``error``, or an exception it was raised from, is a UDS timeout."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, TimeoutException):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def unpowered_hints(item: pytest.Item) -> list[str]:
    """The hint of every ECU of the test's bench that it reached and whose supply is off now."""
    rig = getattr(item, "funcargs", {}).get("bench")
    if not isinstance(rig, Bench):
        return []
    return [hint for handle in rig.handles().values() if (hint := handle.unpowered())]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201 - a hook wrapper
    report = yield
    if report.when == "call" and report.failed and call.excinfo is not None and _silent_ecu(call.excinfo.value):
        hints = unpowered_hints(item)
        if hints:
            text = "\n".join(hints)
            if hasattr(report.longrepr, "addsection"):
                report.longrepr.addsection(SECTION, text)
            crash = getattr(report.longrepr, "reprcrash", None)
            if crash is not None:  # first, where a one-line summary cut to the terminal's width still shows it
                crash.message = f"[{'; '.join(hint.split(',')[0] for hint in hints)}] {crash.message}"
    return report
