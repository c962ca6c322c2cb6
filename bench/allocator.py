"""glibc's malloc set for a process that runs thousands of scenarios: memory that stays flat.

Two of glibc's defaults make a long bench process grow (measured with
``benchmarks/scenarios.py``, figures in benchmarks/README.md "Memory"):

* an arena per thread, up to eight per core: a bench starts new threads for every scenario and
  every power cycle (ISO-TP stacks, the simulator, timers), memory freed in one arena cannot
  serve a thread that lands in another, and the free space of sixteen arenas grew from 6 to
  12 MiB over 200 scenarios while the memory in use stayed at 12 MiB;
* a dynamic mmap threshold: once a block of a few MiB (a blank flash part, a bank read back) is
  freed, glibc raises the threshold to its size and the trim threshold to twice that, so later
  large blocks come from the heap and stay there; the peak RSS then rose with every scenario
  that needed a little more than the ones before.

``configure()`` sets, with ``mallopt`` from the process itself, what glibc's ``MALLOC_*``
environment variables would set at start: at most two arenas (``M_ARENA_MAX``), and fixed mmap
and trim thresholds of 128 KiB (glibc's initial values; fixing them turns the adjustment off).
Python's small objects do not go through malloc (pymalloc, under the GIL), so two arenas cost
the bench's threads no measurable waiting. It changes the whole process, so importing this
module does nothing: ``bench.rig.Bench.start`` calls it, the one place. Arenas made before the
call stay; threads started after it share them. Elsewhere (musl, macOS, Windows: other
allocators) it does nothing, and a setting the user made in the environment stands.
"""

from __future__ import annotations

import ctypes
import os

ARENA_MAX = 2
"""Arenas a bench process keeps: the main one and one its threads share."""
THRESHOLD = 128 * 1024
"""Bytes from which a block is mapped apart (and unmapped when freed), and of free heap top
kept: glibc's initial values, fixed."""
SETTINGS: tuple[tuple[str, int, int], ...] = (
    # (glibc's environment variable, mallopt parameter number of <malloc.h>, value)
    ("MALLOC_ARENA_MAX", -8, ARENA_MAX),  # M_ARENA_MAX
    ("MALLOC_MMAP_THRESHOLD_", -3, THRESHOLD),  # M_MMAP_THRESHOLD
    ("MALLOC_TRIM_THRESHOLD_", -1, THRESHOLD),  # M_TRIM_THRESHOLD
)

_done = False


def glibc() -> bool:
    """Whether this process runs on GNU libc."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError, AttributeError):  # not a name this platform knows, or no confstr at all
        return False


def configure() -> list[str]:
    """Apply ``SETTINGS`` once per process; the environment variables whose values this call
    set (none on a second call, off glibc, or where the user set them already)."""
    global _done
    if _done or not glibc():
        return []
    mallopt = ctypes.CDLL(None).mallopt
    applied = []
    for variable, parameter, value in SETTINGS:
        if variable in os.environ:  # glibc read it at start: the user's choice stands
            continue
        if mallopt(parameter, value) != 1:
            raise OSError(f"glibc refused mallopt({parameter}, {value}) ({variable})")
        applied.append(variable)
    _done = True
    return applied
