"""CPU and Python calls per CAN frame on the path a catalog scenario's frames take (issue 17).

The tester's can-isotp stack (``AddressedStack``) sends TransferData-sized requests on the bench's
virtual bus; the virtual ECU's stack (``EcuStack``, through a ``DirectNotifier``) receives them and
answers each with two bytes, as the flasher and the ECU do, without the UDS client, the ECU's
logic or the gateway: what every frame of a scenario costs at least. Two threads take part, the
stacks' main threads: the sender's thread delivers each frame into the receiving stack's queue
(one thread hop a frame).

Prints the CPU (user + sys of the process) per frame, the median of ``--repeat`` runs, then the
Python function calls per frame by package (counted in a separate, slower run with a profiler
hook; calls into C are not counted). A measurement, not a test: prints, never asserts.

    .venv/bin/python benchmarks/frame_path.py [--ecu bcm] [--blocks 150] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

from bench.config.loader import load_bench
from bench.sim.isotp_server import make_ecu_stack
from bench.transport import virtual_bus
from bench.transport.can_bus import open_bus, open_notifier
from bench.transport.isotp_link import address, make_stack

BENCH_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "benches" / "virtual.yaml"
PACKAGES = (("/bench/", "bench"), ("/isotp/", "can-isotp"), ("/can/", "python-can"), ("/udsoncan/", "udsoncan"))


def exchange(ecu_name: str, blocks: int, calls: Counter[str] | None = None) -> tuple[int, float]:
    """Send ``blocks`` requests and their answers; the frames on the bus and the CPU seconds."""
    config = load_bench(BENCH_FILE)
    ecu = config.ecus[ecu_name]
    bus_config = config.buses[ecu.bus]
    block = config.profiles[ecu.profile].max_block_length - 2
    channel = f"frame-path-{uuid.uuid4().hex[:8]}"
    buses = [open_bus(side, bus_config, channel=channel) for side in ("tester", "ecu")]
    notifiers = [open_notifier(bus) for bus in buses]
    tester = make_stack(buses[0], notifiers[0], address(ecu, server=False), bus_config, max_frame_size=block + 2)
    server = make_ecu_stack(buses[1], notifiers[1], address(ecu, server=True), bus_config, functional=False,
                            max_frame_size=block + 2)
    frames = virtual_bus.tap(channel)
    counting = threading.Event()

    def count(frame: object, event: str, _: object) -> None:
        if event == "call" and counting.is_set():
            filename = frame.f_code.co_filename  # type: ignore[attr-defined]
            calls[next((name for part, name in PACKAGES if part in filename), "other")] += 1  # type: ignore[index]

    if calls is not None:
        threading.setprofile(count)
        sys.setprofile(count)
    tester.start()
    server.start()
    data = os.urandom(block)
    try:
        counting.set()
        before = os.times()
        for number in range(blocks):
            tester.send(bytes([0x36, number & 0xFF]) + data)
            if server.recv(block=True, timeout=10) is None:
                raise RuntimeError(f"request {number} lost")
            server.send(bytes([0x76, number & 0xFF]))
            if tester.recv(block=True, timeout=10) is None:
                raise RuntimeError(f"answer {number} lost")
        after = os.times()
        counting.clear()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        for stack in (tester, server):
            stack.stop()
        for notifier, bus in zip(notifiers, buses, strict=True):
            notifier.stop()
            bus.shutdown()
        virtual_bus.untap(channel, frames)
    return len(frames), (after.user - before.user) + (after.system - before.system)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ecu", default="bcm", help="ECU of fixtures/benches/virtual.yaml (bcm: classic CAN, bms: FD)")
    parser.add_argument("--blocks", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        frames, cpu = exchange(args.ecu, args.blocks)
        runs.append(cpu / frames * 1e6)
    print(f"{args.ecu}: {frames} frames a run, CPU per frame {statistics.median(runs):.1f} us "
          f"(median of {args.repeat}: {', '.join(f'{run:.1f}' for run in runs)})")
    calls: Counter[str] = Counter()
    frames, _ = exchange(args.ecu, max(1, args.blocks // 10), calls)
    print("Python calls per frame: " + ", ".join(f"{name} {number / frames:.1f}" for name, number in calls.most_common())
          + f"; {sum(calls.values()) / frames:.1f} in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
