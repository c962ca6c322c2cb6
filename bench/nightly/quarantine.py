"""Racks that keep failing: consecutive bench faults per rack, shared by every process of a run.

The book is a JSON file of the run (in the rack lock folder, named by the run's id), read and
written under a file lock, so pytest-xdist workers count one rack's faults together. A rack with
``limit`` bench faults in a row is quarantined: no test takes it for the rest of the run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock


@dataclass(frozen=True)
class RackHealth:
    """One rack's record in a run."""

    name: str
    consecutive: int = 0
    faults: int = 0
    quarantined: str | None = None
    """Why the rack was taken out of the pool; None while it is in."""


class QuarantineBook:
    """Bench faults per rack in one run; ``limit`` faults in a row quarantine a rack (0: never)."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self._lock = FileLock(f"{path}.lock")

    def fault(self, rack: Path, name: str, message: str) -> RackHealth:
        """Count a bench fault of ``rack``; quarantine it at the limit."""
        with self._locked():
            book = self._read()
            old = book.get(str(rack), RackHealth(name))
            consecutive = old.consecutive + 1
            reason = old.quarantined
            if reason is None and self.limit and consecutive >= self.limit:
                reason = f"{consecutive} bench faults in a row; the last: {message}"
            book[str(rack)] = RackHealth(name, consecutive, old.faults + 1, reason)
            self._write(book)
            return book[str(rack)]

    def healthy(self, rack: Path, name: str) -> None:
        """A test ran on ``rack`` without a bench fault: its run of faults ends."""
        if not self._read().get(str(rack), RackHealth(name)).consecutive:
            return  # nothing to end (the usual case): no lock taken
        with self._locked():
            book = self._read()
            old = book.get(str(rack))
            if old is not None and old.consecutive:
                book[str(rack)] = RackHealth(name, 0, old.faults, old.quarantined)
                self._write(book)

    def racks(self) -> dict[str, RackHealth]:
        """Every rack that had a bench fault in this run, by its file."""
        return self._read()

    def quarantined(self) -> dict[str, str]:
        """Quarantined racks (file → why)."""
        return {rack: health.quarantined for rack, health in self._read().items() if health.quarantined}

    def remove(self) -> None:
        for path in (self.path, Path(f"{self.path}.lock")):
            path.unlink(missing_ok=True)

    def _locked(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._lock

    def _read(self) -> dict[str, RackHealth]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {rack: RackHealth(**health) for rack, health in data.items()}

    def _write(self, book: dict[str, RackHealth]) -> None:
        """Replace the file whole, so a reader without the lock never sees half of it."""
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps({rack: vars(health) for rack, health in book.items()}), encoding="utf-8")
        os.replace(partial, self.path)
