"""What the rack pool adds to every test: taking a free rack under its file lock and giving it back
(``RackPool.take`` + ``Lease.release``), and counting the test for the rack's quarantine
(``QuarantineBook.healthy``: a look at the run's book). Two copies of the virtual bench form the pool; nobody
else holds them, so no test ever waits here: this is the pure overhead.

    .venv/bin/python benchmarks/rack_pool.py [--repeat 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench.config import load_bench  # noqa: E402
from bench.nightly.pool import RackPool  # noqa: E402
from bench.nightly.quarantine import QuarantineBook  # noqa: E402
from bench.nightly.racks import Rack, RackNeeds  # noqa: E402
from rack_suite import virtual_rack  # noqa: E402


def timed(action: Callable[[], None], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2000)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        racks = [Rack(load_bench(virtual_rack(directory, name))) for name in ("rack-a", "rack-b")]
        book = QuarantineBook(directory / "locks" / "runs" / "run.json", 3)
        locked = RackPool(racks, lock_dir=directory / "locks", book=book)
        alone = RackPool(racks[:1], lock_dir=directory / "locks", book=book)
        actions: list[tuple[str, Callable[[], None]]] = [
            ("take + release, pool of 2 (file lock)", lambda: locked.take(RackNeeds(ecu="bms")).release()),
            ("take + release, lone virtual bench (no lock)", lambda: alone.take(RackNeeds()).release()),
            ("quarantine count after a passing test", lambda: book.healthy(racks[0].path, racks[0].name)),
        ]
        rows = [(name, timed(action, repeat)) for name, action in actions]
    print(f"{'per test':48} {'median':>10} {'p95':>10}   ({repeat} runs)")
    for name, times in rows:
        ordered = sorted(times)
        print(f"{name:48} {statistics.median(ordered) * 1e3:8.3f} ms {ordered[int(0.95 * len(ordered))] * 1e3:7.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
