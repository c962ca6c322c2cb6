"""A memo for udsoncan's response-code names, which it looks up on every response.

``udsoncan.ResponseCode.get_name`` scans the class with ``inspect.getmembers`` each time a
``Response`` is parsed or built, a good part of the CPU a virtual bench spends per request
(tester and virtual ECUs both go through it). The names are class constants, so the first
answer for a code is the answer forever: ``install()`` wraps the lookup in a cache, same
results, once per process.

It changes udsoncan for the whole process, so importing this module does nothing: one place
installs it, ``bench.rig.Bench.start`` (every bench of a test, a scenario, ``ota-bench flash``
and the benchmarks), where a tester and virtual ECUs exchange thousands of responses. Code that
drives udsoncan without a ``Bench`` runs with udsoncan's own lookup.
"""

from __future__ import annotations

import functools

from udsoncan.ResponseCode import ResponseCode


def install() -> None:
    """Memoize ``ResponseCode.get_name`` (idempotent)."""
    if getattr(ResponseCode.get_name, "__wrapped__", None) is not None:
        return
    lookup = ResponseCode.get_name.__func__  # type: ignore[attr-defined]
    ResponseCode.get_name = classmethod(functools.lru_cache(maxsize=None)(lookup))  # type: ignore[method-assign]
