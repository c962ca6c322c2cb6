"""Python's cyclic garbage collector set for a process that runs thousands of scenarios.

Every scenario makes and drops many container objects (requests, frames, threads, timelines), so
the collector runs often, and one run in about a hundred is a full one that walks every object
the process holds. By the first bench start that is mostly what lives until the process ends:
the collected test items, the catalogs, the bench configuration, the imported modules (some
140,000 objects for the shipped catalogs). Measured over 60 catalog scenarios, the full
collections cost about 8 ms of CPU per scenario.

``freeze_long_lived()`` collects once, then moves every object alive to the collector's permanent
generation (``gc.freeze``): later collections walk only what was made after. Garbage made later
is collected as before; an object alive at the call that is dropped later is freed by its
reference count as always, and only a reference cycle among such objects stays (memory, never
behaviour). It changes the whole process, so importing this module does nothing:
``bench.rig.Bench.start`` calls it, the one place, and only the first call acts. In a pytest run
the plugin has already frozen what start-up and collection built (``bench.pytest.plugin``, which
thaws everything when the run ends); this adds what came since, and serves the processes that
run benches without pytest (``ota-bench``, the benchmarks).
"""

from __future__ import annotations

import gc

_done = False


def freeze_long_lived() -> bool:
    """Collect, then freeze what is alive; once per process. Whether this call did it."""
    global _done
    if _done:
        return False
    _done = True
    gc.collect()
    gc.freeze()
    return True
