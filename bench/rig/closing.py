"""Closing many parts of a bench at once, every failure kept for one report at the end."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


def side_by_side(stops: list[tuple[str, Callable[[], None]]], errors: list[str]) -> None:
    """Run every ``stop`` in a thread of its own, wait for all, collect their errors."""
    def run(what: str, stop: Callable[[], None]) -> None:
        with collect(errors, what):
            stop()

    threads = [threading.Thread(target=run, args=item, name=f"close {item[0]}") for item in stops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@contextlib.contextmanager
def collect(errors: list[str], what: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # keep closing the rest; report everything at the end
        errors.append(f"{what}: {exc}")
