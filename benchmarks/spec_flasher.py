"""The spec interpreter against the bench's own flasher: the same image flashed into the same
virtual ECU (bcm) by ``flash(image)`` and by ``flash_software`` with the ``bench`` spec, taken in
turns so both see the same load; wall and CPU time per flash and their ratio. Also the EPS (HIS-
style, two zlib blocks) by the ``his`` spec, for scale.

A measurement, not a test: prints, never asserts.

    .venv/bin/python benchmarks/spec_flasher.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.config import load_bench
from bench.image.builders import firmware_builder
from bench.image.software import LogicalBlock, SoftwareFile, load_software
from bench.rig import Bench

REPO = Path(__file__).resolve().parents[1]


def timed(flash) -> tuple[float, float]:  # noqa: ANN001 - a callable that flashes
    wall, cpu = time.perf_counter(), time.process_time()
    flash()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    image = firmware_builder(REPO)("app-2.0.0")
    eps_software = [load_software(REPO / "fixtures" / "software" / "eps-2.0.0.hex")]
    times: dict[str, list[tuple[float, float]]] = {"flash(image)": [], "flash_software, bench spec": [],
                                                   "eps: flash_software, his spec": []}
    with tempfile.TemporaryDirectory() as workdir, Bench(config, workdir=Path(workdir)) as rig:
        bcm, eps = rig.ecu("bcm"), rig.ecu("eps")
        software = [SoftwareFile(Path("app.bin"), "binary", (LogicalBlock(bcm.profile.memory.address, image.to_bytes()),))]
        for _ in range(rounds):
            times["flash(image)"].append(timed(lambda: bcm.flasher.flash(image)))
            times["flash_software, bench spec"].append(
                timed(lambda: bcm.flasher.flash_software(software, expect_version="2.0.0")))
            times["eps: flash_software, his spec"].append(
                timed(lambda: eps.flasher.flash_software(eps_software, expect_version="2.0.0")))
    print(f"{len(image.to_bytes())} B image into bcm, {sum(s.size for s in eps_software)} B into eps; "
          f"{rounds} rounds, medians")
    medians = {name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
               for name, t in times.items()}
    for name, (wall, cpu) in medians.items():
        print(f"  {name:<32} wall {wall * 1000:8.1f} ms   cpu {cpu * 1000:8.1f} ms")
    (w0, c0), (w1, c1) = medians["flash(image)"], medians["flash_software, bench spec"]
    print(f"  interpreter / flasher: wall {w1 / w0:.2f}, cpu {c1 / c0:.2f}")


if __name__ == "__main__":
    main()
