"""A test that cut an ECU's power and forgot to restore it is the test's mistake, not the ECU's: when a
test fails on an ECU that did not answer (a UDS timeout, in a ``FlashError`` or not) while the supply
of an ECU it talked to is off, the failure becomes a ``UsageError`` that says "the ECU is unpowered"
(raised from the original error, which stays in the traceback). It is then counted, categorized
and reported as a usage error (exit status 4 when there is no ECU failure), never as an ECU failure.

Catalog scenarios are not concerned: the runner restores power itself and judges the ECU after."""

from __future__ import annotations

import pytest
from udsoncan.exceptions import TimeoutException

from bench.errors import UsageError
from bench.rig import Bench


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
def pytest_runtest_call(item: pytest.Item):  # noqa: ANN201 - a hook wrapper
    try:
        return (yield)
    except Exception as error:
        hints = unpowered_hints(item) if _silent_ecu(error) else []
        if hints:
            raise UsageError("; ".join(hints) + f"; the test failed on the silence: {type(error).__name__}: {error}") \
                from error
        raise
