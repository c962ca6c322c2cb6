"""At most two glibc malloc arenas in a process that runs thousands of scenarios.

glibc gives a thread that starts allocating an arena of its own, up to eight per core, and
keeps what each arena once held: a bench starts new threads for every scenario and every power
cycle (ISO-TP stacks, notifiers, the simulator, timers), so memory freed in one arena cannot
serve the next thread that lands in another, and the free space of sixteen arenas grows with
the number of scenarios. Measured (``benchmarks/scenarios.py``, README "Memory"): with glibc's
default the C heap's free space rose from 6 to 12 MiB over 200 scenarios while the memory in
use stayed at 12 MiB; with two arenas peak RSS stays within a few percent from 100 to 1,000.
Python's own small objects do not go through malloc's arenas (pymalloc, under the GIL), so two
arenas cost the bench's threads no measurable waiting.

``bound_arenas()`` sets glibc's ``M_ARENA_MAX`` (``mallopt``, as the ``MALLOC_ARENA_MAX``
environment variable would at start) from the process itself. It changes the whole process, so
importing this module does nothing: ``bench.rig.Bench.start`` calls it, the one place. Arenas
made before the call stay; threads started after it share them. Elsewhere (musl, macOS,
Windows: no arenas of this kind) and when the user set ``MALLOC_ARENA_MAX`` (glibc read it at
start: the user's choice stands) it does nothing.
"""

from __future__ import annotations

import ctypes
import os

ARENA_MAX = 2
"""Arenas a bench process keeps: the main one and one its threads share."""
M_ARENA_MAX = -8
"""``mallopt`` parameter number of the arena limit (glibc's ``<malloc.h>``)."""

_done = False


def glibc() -> bool:
    """Whether this process runs on GNU libc."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError, AttributeError):  # not a name this platform knows, or no confstr at all
        return False


def bound_arenas(limit: int = ARENA_MAX) -> bool:
    """Cap glibc's malloc arenas at ``limit`` for this process, once; True when this call or an
    earlier one set the cap, False where it does not apply (not glibc, or ``MALLOC_ARENA_MAX``
    set by the user)."""
    global _done
    if _done:
        return True
    if not glibc() or "MALLOC_ARENA_MAX" in os.environ:
        return False
    if ctypes.CDLL(None).mallopt(M_ARENA_MAX, limit) != 1:
        raise OSError(f"glibc refused mallopt(M_ARENA_MAX, {limit})")
    _done = True
    return True
