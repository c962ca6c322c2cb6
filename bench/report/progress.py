"""Progress of long operations on the terminal of the person running them; silence in logs.

A bar is drawn only when the stream is a terminal and no ``CI`` environment variable says the
run is a CI job (GitHub Actions, GitLab CI and most others set ``CI=true``), so CI logs and
redirected output never fill with carriage-return updates.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def is_interactive(stream: TextIO) -> bool:
    return stream.isatty() and not in_ci()


class TerminalProgress:
    """``progress(done, total)`` redraws one line: label, bar, percent, bytes and rate. Redraws
    only when the percentage changes; ``close()`` ends the line if the operation stopped early."""

    def __init__(self, label: str, stream: TextIO, *, width: int = 30) -> None:
        self.label, self.stream, self.width = label, stream, width
        self._shown = -1
        self._open = False
        self._start: tuple[float, int] | None = None  # time and bytes at the first update

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self._start is None:
            self._start = (now, done)
        percent = done * 100 // total if total else 100
        if percent == self._shown and done < total:
            return
        self._shown = percent
        filled = self.width * percent // 100
        elapsed, sent = now - self._start[0], done - self._start[1]
        rate = f"  {sent / elapsed / 1024:.0f} KiB/s" if elapsed > 0 and sent > 0 else ""
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {percent:3d}% "
                          f"{done}/{total} B{rate}")
        self._open = done < total
        if not self._open:
            self.stream.write("\n")
        self.stream.flush()

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


@contextmanager
def terminal_progress(label: str, stream: TextIO | None = None) -> Iterator[TerminalProgress | None]:
    """A progress line on ``stream`` (default: stderr) for a person watching it, ended when the
    block ends however it ends; None where nobody watches (a pipe, a file, a CI job)."""
    stream = stream if stream is not None else sys.stderr
    if not is_interactive(stream):
        yield None
        return
    progress = TerminalProgress(label, stream)
    try:
        yield progress
    finally:
        progress.close()
