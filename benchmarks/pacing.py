"""The flasher on a bus paced to its bitrate: throughput against the bus's ISO-TP capacity.

With ``pace: true`` the virtual bus holds the wire for each frame's nominal bit time
(``bench.transport.virtual_bus.frame_bits``): classic CAN at 500 kbit/s (bcm), CAN FD at
500 kbit/s arbitration / 2 Mbit/s data (bms), as in fixtures/benches/virtual.yaml.

The capacity is what the bus could carry of the image if it did nothing but send the
flasher's TransferData requests back to back: every ISO-TP frame of every request (first
frame, consecutive frames, the last one padded as the stack pads it), and nothing else: no
flow control, no response, no ECU time. The flasher's throughput is the image bytes over the
duration of its TransferData step (same bus, gateway off). Their ratio is the share of the
wire the whole request/response/flash loop keeps (aim: 0.9). The predicted time of a 1 MiB
image adds the other steps of the measured update (session, security, erase, checks, reset)
to 1 MiB at the measured rate.

A measurement, not a test: prints, never asserts.

    .venv/bin/python benchmarks/pacing.py [--image app-2.0.0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import can

from bench.config import BenchConfig, load_bench
from bench.image import FirmwareImage, build_image
from bench.rig import Bench
from bench.transport.virtual_bus import frame_bits

REPO = Path(__file__).resolve().parents[1]
BENCH_FILE = REPO / "fixtures" / "benches" / "virtual.yaml"
MIB = 1 << 20
TARGET = 0.9
FD_LENGTHS = (8, 12, 16, 20, 24, 32, 48, 64)


def isotp_frame_lengths(message: int, *, fd: bool) -> list[int]:
    """Data lengths of the CAN frames can-isotp sends for a ``message``-byte payload (padded)."""
    size = 64 if fd else 8
    if message <= size - (2 if fd else 1):
        return [_padded(message + (2 if fd and message > 7 else 1), fd)]
    first = size - (2 if message <= 4095 else 6)
    rest = message - first
    full, last = divmod(rest, size - 1)
    return [size] + [size] * full + ([_padded(last + 1, fd)] if last else [])


def _padded(length: int, fd: bool) -> int:
    return next(n for n in FD_LENGTHS if n >= length) if fd else 8


def wire_seconds(message: int, *, fd: bool, bitrate: int, data_bitrate: int) -> float:
    seconds = 0.0
    for length in isotp_frame_lengths(message, fd=fd):
        nominal, fast = frame_bits(can.Message(arbitration_id=0x7E0, data=bytes(length), is_extended_id=False,
                                               is_fd=fd, bitrate_switch=fd))
        seconds += nominal / bitrate + fast / data_bitrate
    return seconds


def capacity(config: BenchConfig, ecu_name: str, image: bytes) -> float:
    """Bytes/s of ``image`` in the ECU's TransferData blocks, frames back to back on the wire."""
    ecu = config.ecus[ecu_name]
    bus = config.buses[ecu.bus]
    block = config.profiles[ecu.profile].max_block_length - 2  # SID and block counter
    seconds = sum(wire_seconds(2 + len(image[at:at + block]), fd=bus.fd, bitrate=bus.bitrate,
                               data_bitrate=bus.data_bitrate or bus.bitrate)
                  for at in range(0, len(image), block))
    return len(image) / seconds


def paced(config: BenchConfig) -> BenchConfig:
    buses = {name: bus.model_copy(update={"pace": True, "gateway": False}) for name, bus in config.buses.items()}
    return config.model_copy(update={"buses": buses})


def flash(config: BenchConfig, ecu_name: str, image: FirmwareImage) -> tuple[float, float]:
    """(TransferData bytes/s, seconds of every other step) of one update on a fresh ECU."""
    with tempfile.TemporaryDirectory(prefix="pacing-") as workdir, \
            Bench(config, workdir=Path(workdir), ecus=[ecu_name]) as rig:
        result = rig.ecu(ecu_name).flasher.flash(image)
        faults = rig.faults()
    if faults or result.version_after != image.header.version:
        raise RuntimeError(f"flash to {ecu_name} did not complete: {faults or result.notes}")
    transfer = next(step for step in result.timeline.steps if step.name == "TransferData")
    others = sum(step.duration for step in result.timeline.steps if step is not transfer)
    return transfer.bytes / transfer.duration, others


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="app-2.0.0", help="firmware recipe under fixtures/firmware")
    parser.add_argument("--repeat", type=int, default=3, help="runs per ECU; the median is reported")
    args = parser.parse_args()
    config = paced(load_bench(BENCH_FILE))
    image = build_image(REPO / "fixtures" / "firmware" / f"{args.image}.yaml")
    data = image.to_bytes()
    print(f"flasher on the paced virtual bus: {args.image} ({len(data)} B), median of {args.repeat} runs")
    print(f"{'ECU / bus':<34}{'capacity KiB/s':>15}{'flasher KiB/s':>15}{'ratio':>7}{'1 MiB image':>13}")
    for ecu_name in config.ecus:
        bus = config.buses[config.ecus[ecu_name].bus]
        runs = [flash(config, ecu_name, image) for _ in range(args.repeat)]
        rate = statistics.median(run[0] for run in runs)
        others = statistics.median(run[1] for run in runs)
        limit = capacity(config, ecu_name, data)
        label = f"{ecu_name} ({'CAN FD' if bus.fd else 'classic CAN'} {bus.bitrate // 1000}"
        label += f"/{(bus.data_bitrate or bus.bitrate) // 1000} kbit/s)" if bus.fd else " kbit/s)"
        verdict = "meets" if rate / limit >= TARGET else "below"
        print(f"{label:<34}{limit / 1024:>15.1f}{rate / 1024:>15.1f}{rate / limit:>7.2f}"
              f"{MIB / rate + others:>12.1f}s  {verdict} target {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
