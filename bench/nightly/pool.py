"""The rack pool: every test that uses a bench takes one rack that can run it, under a file lock,
and gives it back after its teardown.

Locks are files in a lock folder shared by every pytest process on the machine (``--rack-locks``),
one per rack, named after the rack file's resolved path; pytest-xdist workers, and separate runs
on one machine, therefore never drive the same rack at once. A lone bench file with nothing real
on it (virtual buses and supplies only) is not locked: each test brings up its own channels and
NVM on it, so workers share it as they always have.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from bench.config.models import EcuProfile
from bench.errors import BenchFault, ConfigError
from bench.nightly.quarantine import QuarantineBook
from bench.nightly.racks import Rack, RackNeeds

FIRST_PAUSE = 0.02
MAX_PAUSE = 0.25
"""Seconds between looks for a free rack: short at first, at most this."""


@dataclass
class Lease:
    """A rack held by one test."""

    rack: Rack
    lock: FileLock | None

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


class RackPool:
    """The racks of a run. ``worker`` (the pytest-xdist worker's number) says which rack a process
    tries first, so workers spread over the pool instead of queueing for its first rack."""

    def __init__(self, racks: Sequence[Rack], *, lock_dir: Path, book: QuarantineBook, worker: int = 0,
                 wait: float = 60.0) -> None:
        problems = pool_problems(racks)
        if problems:
            raise ConfigError("racks of the pool do not fit together:\n  " + "\n  ".join(problems))
        self.racks = list(racks)
        self.lock_dir = lock_dir
        self.book = book
        self.worker = worker
        self.wait = wait
        self.locking = len(self.racks) > 1 or any(rack.hardware for rack in self.racks)

    def able(self, needs: RackNeeds) -> list[Rack]:
        """The racks that can run a test with ``needs``, quarantined or not."""
        return [rack for rack in self.racks if needs.unmet(rack) is None]

    def why_none(self, needs: RackNeeds) -> str:
        """Why no rack can run a test with ``needs``."""
        reasons = [str(needs.unmet(rack)) for rack in self.racks]
        if len(reasons) == 1:
            return reasons[0]
        return "no rack of the pool fits: " + "; ".join(reasons)

    def ecu_profiles(self) -> dict[str, EcuProfile]:
        """The profile of every ECU on any rack, from the first rack that has it (racks agree on
        its bootloader kind and delta support: ``pool_problems``)."""
        profiles: dict[str, EcuProfile] = {}
        for rack in self.racks:
            for name, ecu in rack.config.ecus.items():
                profiles.setdefault(name, rack.config.profiles[ecu.profile])
        return profiles

    def take(self, needs: RackNeeds, *, avoid: frozenset[Path] = frozenset()) -> Lease:
        """A free rack that can run the test and is not quarantined, waiting up to ``wait`` seconds
        for one. Racks in ``avoid`` (where this test already hit a bench fault) are taken only when
        no other rack can run it."""
        started = time.monotonic()
        pause = FIRST_PAUSE
        while True:
            out = self.book.quarantined()
            able = self.able(needs)
            healthy = [rack for rack in able if str(rack.path) not in out]
            if not healthy:
                raise BenchFault("no rack left for this test: " + "; ".join(
                    f"rack {rack.name!r} is quarantined ({out[str(rack.path)]})" for rack in able))
            preferred = [rack for rack in healthy if rack.path not in avoid] or healthy
            for rack in self._in_turn(preferred):
                lease = self._try(rack)
                if lease is not None:
                    return lease
            waited = time.monotonic() - started
            if waited >= self.wait:
                raise BenchFault(f"no free rack for this test within {self.wait:g} s (--rack-wait); busy: "
                                 + ", ".join(rack.describe() for rack in preferred))
            time.sleep(min(pause, self.wait - waited))
            pause = min(2 * pause, MAX_PAUSE)

    def lock_file(self, rack: Rack) -> Path:
        digest = hashlib.sha256(str(rack.path).encode()).hexdigest()[:12]
        return self.lock_dir / f"{rack.path.stem}-{digest}.lock"

    def _in_turn(self, racks: list[Rack]) -> list[Rack]:
        first = self.worker % len(racks)
        return racks[first:] + racks[:first]

    def _try(self, rack: Rack) -> Lease | None:
        if not self.locking:
            return Lease(rack, None)
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.lock_file(rack))
        try:
            lock.acquire(blocking=False)
        except Timeout:
            return None
        return Lease(rack, lock)


def pool_problems(racks: Sequence[Rack]) -> list[str]:
    """Racks that cannot share a run: one file twice, two racks of one name (reports tell racks
    by name), an ECU name that is a different kind of ECU on two racks (tests and catalogs name
    ECUs): another bootloader, or delta updates on one rack only."""
    problems = []
    files: dict[Path, Rack] = {}
    names: dict[str, Rack] = {}
    kinds: dict[str, tuple[str, Rack]] = {}
    for rack in racks:
        if rack.path in files:
            problems.append(f"{rack.path} is named twice")
            continue
        files[rack.path] = rack
        if rack.name in names:
            problems.append(f"two racks are named {rack.name!r}: {names[rack.name].path} and {rack.path}")
        names.setdefault(rack.name, rack)
        for name, ecu in rack.config.ecus.items():
            profile = rack.config.profiles[ecu.profile]
            kind = profile.bootloader + (" (delta updates)" if profile.delta is not None else "")
            first = kinds.setdefault(name, (kind, rack))
            if first[0] != kind:
                problems.append(f"ECU {name!r} is a {first[0]} ECU on {first[1].describe()} but a {kind} ECU on "
                                f"{rack.describe()}")
    return problems
