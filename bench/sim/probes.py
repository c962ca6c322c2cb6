"""Deterministic points inside the virtual ECU where a test can act (e.g. cut power).

Points: ``erase_sector`` and ``erase_sector_half`` (sector index), ``program_page`` and ``program_page_half`` (page
index), ``boot`` (failed-start count), ``confirm`` (bank about to be confirmed), ``patch_step``
(step number of a delta job, from 0: each step rewrites one sector; see bench.sim.patching). A callback
runs in the simulator's thread at that exact point; cutting power there makes the operation
in progress stop as a real power loss would.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

ProbeCallback = Callable[[int], None]
POINTS = frozenset({"erase_sector", "erase_sector_half", "program_page", "program_page_half", "boot", "confirm",
                    "patch_step"})


class Probes:
    def __init__(self) -> None:
        self._callbacks: dict[str, list[ProbeCallback]] = defaultdict(list)
        self._lock = threading.Lock()

    def on(self, point: str, callback: ProbeCallback) -> None:
        if point not in POINTS:
            raise ValueError(f"unknown probe point {point!r}; known: {', '.join(sorted(POINTS))}")
        with self._lock:
            self._callbacks[point].append(callback)

    def once(self, point: str, index: int, action: Callable[[], None]) -> None:
        """Run ``action`` the first time ``point`` is reached with ``index``, then never again."""
        fired = threading.Event()

        def callback(reached: int) -> None:
            if reached == index and not fired.is_set():
                fired.set()
                action()

        self.on(point, callback)

    def clear(self) -> None:
        with self._lock:
            self._callbacks.clear()

    def __call__(self, point: str, index: int) -> None:
        callbacks = self._callbacks.get(point)
        if callbacks:
            for callback in list(callbacks):
                callback(index)
