"""Memos for look-ups udsoncan repeats on every request and response.

* ``udsoncan.ResponseCode.get_name`` scans the class with ``inspect.getmembers`` each time a
  ``Response`` is parsed or built, and ``BaseSubfunction.get_name`` its subfunction class (a
  session, a reset type) each time the client logs one. The names are class constants, so the
  first answer for a class and a code is the answer forever.
* ``BaseService.from_request_id`` and ``from_response_id`` (every ``Request``/``Response`` parsed:
  the tester's client, the virtual ECUs' servers, the monitor's decoder) walk the whole tree of
  ``BaseService`` subclasses each time to find the service of an id. The tree only changes when a
  new service class is defined, so the answers are kept until then: a class defined later (a
  custom or OEM service, which udsoncan lets subclass a standard one) clears them, and the next
  look-up walks the tree again and finds it as udsoncan would.

A good part of the CPU a virtual bench spends per request went there (tester and virtual ECUs
both). These change udsoncan for the whole process, so importing this module does nothing: one
place installs them, ``bench.rig.Bench.start`` (every bench of a test, a scenario, ``ota-bench
flash`` and the benchmarks), where a tester and virtual ECUs exchange thousands of requests. Code
that drives udsoncan without a ``Bench`` runs with udsoncan's own look-ups.
"""

from __future__ import annotations

import functools
from typing import Any

from udsoncan.BaseService import BaseService, BaseSubfunction
from udsoncan.ResponseCode import ResponseCode

LOOK_UPS = ("from_request_id", "from_response_id")


def install() -> None:
    """Memoize the names of response codes and subfunctions and the service look-ups (idempotent)."""
    for named in (ResponseCode, BaseSubfunction):
        if getattr(named.get_name, "__wrapped__", None) is None:
            lookup = named.get_name.__func__  # type: ignore[attr-defined]
            named.get_name = classmethod(functools.lru_cache(maxsize=None)(lookup))  # type: ignore[method-assign]
    if getattr(BaseService.from_request_id, "__wrapped__", None) is None:
        for name in LOOK_UPS:
            lookup = getattr(BaseService, name).__func__
            setattr(BaseService, name, classmethod(functools.lru_cache(maxsize=None)(lookup)))
        BaseService.__init_subclass__ = classmethod(_new_service)  # type: ignore[assignment]


def _new_service(cls: type[BaseService], **kwargs: Any) -> None:
    """A service class defined: the look-ups' answers so far may miss it."""
    for name in LOOK_UPS:
        getattr(BaseService, name).cache_clear()
    super(BaseService, cls).__init_subclass__(**kwargs)
