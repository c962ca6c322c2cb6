"""Loading software files: what the bench's line-by-line checks cost against reading the same
file with bincopy alone.

In one run, for a 4 MiB file of two logical blocks (3.5 MiB application, 0.5 MiB calibration,
random data) written as Intel HEX and S-record (32 data bytes a record, as most toolchains
write them) and as VBF: the time ``bench.image.software.load_software`` takes, and for HEX and
S-record the time ``bincopy.BinFile(path)`` takes to read the same file without the bench's
checks (line numbers, overlaps, memory map); ratio = load_software / bincopy. Median of
--repeat runs. Prints a table; never asserts.

    .venv/bin/python benchmarks/software_files.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bincopy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from vbf_files import vbf_bytes  # noqa: E402

from bench.image.software import load_software  # noqa: E402

BLOCKS = [(0x0001_0000, os.urandom(3584 * 1024)), (0x0080_0000, os.urandom(512 * 1024))]


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    binfile = bincopy.BinFile()
    for address, data in BLOCKS:
        binfile.add_binary(data, address=address)
    with tempfile.TemporaryDirectory() as folder:
        files = {"Intel HEX": Path(folder) / "app.hex", "S-record": Path(folder) / "app.s37",
                 "VBF": Path(folder) / "app.vbf"}
        files["Intel HEX"].write_text(binfile.as_ihex())
        files["S-record"].write_text(binfile.as_srec(address_length_bits=32))
        files["VBF"].write_bytes(vbf_bytes(BLOCKS))
        print(f"{'format':10} {'file size':>10} {'load_software':>14} {'bincopy':>9} {'ratio':>6}")
        for name, path in files.items():
            ours = median_seconds(lambda: load_software(path), repeat)
            theirs = median_seconds(lambda: bincopy.BinFile(str(path)), repeat) if name != "VBF" else None
            ratio = f"{ours / theirs:6.2f}" if theirs else f"{'-':>6}"
            print(f"{name:10} {path.stat().st_size / 2**20:8.1f} MiB {ours:12.3f} s "
                  f"{f'{theirs:7.3f} s' if theirs else '-':>9} {ratio}")


if __name__ == "__main__":
    main()
