"""ISO-TP and TransferData throughput on python-can's virtual bus, classic CAN and CAN FD.

For each bus kind, in one run:

(a) raw ISO-TP: one can-isotp NotifierBasedCanStack sends the flasher's TransferData requests
    (0x36, counter, a block of the profile's size) one way to another stack on the same virtual channel,
    back to back, with the parameters the bench uses (STmin 0, block size 0, same frame size);
(b) the flasher: a 1 MiB image (fixtures/firmware/app-3.0.0-1mib.yaml) flashed to a virtual
    ECU of fixtures/benches/virtual.yaml (bcm: classic, bms: FD); bytes and duration of the
    TransferData step of the FlashResult timeline.

Both count the same data bytes (the image, in the profile's TransferData blocks). The ratio
(b)/(a) says how much of the transport's throughput the whole request/response/flash-write
loop keeps; (b) runs with the bench's CAN gateway switched off, like (a). A third column shows
the flasher through the gateway (the virtual bench's default, for network faults), for
information. Each number is the median of --repeat runs. Prints a table; never asserts.

    .venv/bin/python benchmarks/throughput.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import can

from bench.config import BenchConfig, load_bench
from bench.image import FirmwareImage, build_image
from bench.rig import Bench
from bench.transport.can_bus import open_bus
from bench.transport.isotp_link import address, make_stack

REPO = Path(__file__).resolve().parents[1]
BENCH_FILE = REPO / "fixtures" / "benches" / "virtual.yaml"
IMAGE_RECIPE = REPO / "fixtures" / "firmware" / "app-3.0.0-1mib.yaml"
TARGET_RATIO = 0.8
KIB = 1024


@dataclass(frozen=True)
class Case:
    label: str
    ecu: str


CASES = (Case("classic CAN (8 B frames)", "bcm"), Case("CAN FD (64 B frames)", "bms"))


def raw_isotp(config: BenchConfig, ecu_name: str, image: bytes) -> float:
    """KiB/s of TransferData-sized ISO-TP messages, one way, between two stacks (own buses)."""
    ecu = config.ecus[ecu_name]
    bus_config = config.buses[ecu.bus]
    profile = config.profiles[ecu.profile]
    block = profile.max_block_length - 2
    frame = max(profile.max_block_length, 4095)  # what TesterLink and VirtualEcu use
    channel = f"throughput-{uuid.uuid4().hex[:8]}"
    tester_bus = open_bus("tester", bus_config, channel=channel)
    ecu_bus = open_bus("ecu", bus_config, channel=channel)
    tester_notifier = can.Notifier(tester_bus, [], timeout=0.05)
    ecu_notifier = can.Notifier(ecu_bus, [], timeout=0.05)
    sender = make_stack(tester_bus, tester_notifier, address(ecu, server=False), bus_config, max_frame_size=frame)
    receiver = make_stack(ecu_bus, ecu_notifier, address(ecu, server=True), bus_config, max_frame_size=frame)
    sender.start()
    receiver.start()
    try:
        messages = [bytes([0x36, (i + 1) & 0xFF]) + image[start:start + block]
                    for i, start in enumerate(range(0, len(image), block))]
        started = time.perf_counter()
        for message in messages:
            sender.send(message)
        for index, message in enumerate(messages):
            received = receiver.recv(block=True, timeout=30)
            if received != message:
                raise RuntimeError(f"raw ISO-TP: message {index} lost or corrupted")
        elapsed = time.perf_counter() - started
    finally:
        sender.stop()
        receiver.stop()
        for notifier, bus in ((tester_notifier, tester_bus), (ecu_notifier, ecu_bus)):
            notifier.stop()
            bus.shutdown()
    return len(image) / KIB / elapsed


def flasher_transfer(config: BenchConfig, ecu_name: str, image: FirmwareImage) -> float:
    """KiB/s of the flasher's TransferData step, flashing ``image`` to a fresh virtual ECU."""
    with tempfile.TemporaryDirectory(prefix="throughput-") as workdir, \
            Bench(config, workdir=Path(workdir)) as rig:
        result = rig.ecu(ecu_name).flasher.flash(image)
        step = next(s for s in result.timeline.steps if s.name == "TransferData")
        faults = rig.faults()
    if faults or result.version_after != image.header.version:
        raise RuntimeError(f"flash to {ecu_name} did not complete: {faults or result.notes}")
    return step.bytes / KIB / step.duration


def without_gateway(config: BenchConfig) -> BenchConfig:
    buses = {name: bus.model_copy(update={"gateway": False}) for name, bus in config.buses.items()}
    return config.model_copy(update={"buses": buses})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported")
    args = parser.parse_args()
    config = load_bench(BENCH_FILE)
    direct = without_gateway(config)
    image = build_image(IMAGE_RECIPE)
    data = image.to_bytes()
    print(f"TransferData throughput on python-can's virtual bus: {len(data)} B image, "
          f"median of {args.repeat} runs; Python {platform.python_version()}, {platform.machine()}")
    rows = []
    for case in CASES:
        raw_runs, flash_runs, gateway_runs = [], [], []
        for _ in range(args.repeat):  # interleaved, so slow drift of the machine hits all alike
            raw_runs.append(raw_isotp(config, case.ecu, data))
            flash_runs.append(flasher_transfer(direct, case.ecu, image))
            gateway_runs.append(flasher_transfer(config, case.ecu, image))
        raw, flashed, gated = (statistics.median(runs) for runs in (raw_runs, flash_runs, gateway_runs))
        rows.append((case, raw, flashed, gated))
        print(f"  {case.label} [{case.ecu}]: raw runs {_runs(raw_runs)} KiB/s; "
              f"flasher runs {_runs(flash_runs)} KiB/s; via gateway {_runs(gateway_runs)} KiB/s")
    print()
    print(f"{'bus':<26}{'raw ISO-TP KiB/s':>18}{'flasher KiB/s':>15}{'ratio':>8}{'via gateway':>14}")
    for case, raw, flashed, gated in rows:
        ratio = flashed / raw
        verdict = "meets" if ratio >= TARGET_RATIO else "below"
        print(f"{case.label:<26}{raw:>18.1f}{flashed:>15.1f}{ratio:>8.2f}{gated:>14.1f}  {verdict} target")
    print()
    print(f"target: flasher / raw ISO-TP >= {TARGET_RATIO} (the request/response and flash-write loop "
          "may cost at most a fifth of the transport's throughput)")
    return 0


def _runs(values: list[float]) -> str:
    return ", ".join(f"{value:.0f}" for value in values)


if __name__ == "__main__":
    raise SystemExit(main())
