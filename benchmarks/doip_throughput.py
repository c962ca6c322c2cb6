"""Flashing throughput over DoIP on loopback, against the raw CAN FD transport of the same run.

In one run, interleaved, each the median of --repeat:

(a) raw ISO-TP on the virtual CAN FD bus, no DoIP: the 1 MiB image cut into the TransferData
    requests of ECU bms (16 KiB blocks), sent one way between two can-isotp stacks with the bench's
    parameters (``throughput.raw_isotp``);
(b) DoIP to an ECU on Ethernet: the flasher programs the 1 MiB image into the virtual A/B HPC of
    fixtures/benches/doip-hpc.yaml, the DoIP entity itself (32 KiB blocks over TCP on loopback);
(c) DoIP through the gateway to CAN FD: the flasher programs the image into bms behind the virtual
    DoIP gateway of fixtures/benches/doip.yaml (TCP to the gateway, ISO-TP on CAN FD behind it,
    through the bench's CAN gateway as the file has it);
(d) for information, the flasher to bms on the same bench with its ``via`` removed: ISO-TP on CAN FD
    straight from the tester (through the bench's CAN gateway too), no DoIP.

(b), (c) and (d) are the TransferData step's bytes over its duration (FlashResult timeline); each is
given as a ratio to (a). Prints a table; never asserts.

    .venv/bin/python benchmarks/doip_throughput.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
from pathlib import Path

from throughput import IMAGE_RECIPE, flasher_transfer, raw_isotp

from bench.config import BenchConfig, load_bench
from bench.image import build_image

BENCHES = Path(__file__).resolve().parents[1] / "fixtures" / "benches"
GATEWAY_BENCH, NODE_BENCH = BENCHES / "doip.yaml", BENCHES / "doip-hpc.yaml"
CAN_FD_ECU, NODE_ECU = "bms", "hpc"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported")
    args = parser.parse_args()
    gateway_bench, node_bench = load_bench(GATEWAY_BENCH), load_bench(NODE_BENCH)
    image = build_image(IMAGE_RECIPE)
    data = image.to_bytes()
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    print(f"DoIP flashing throughput on loopback: {len(data)} B image, median of {args.repeat} runs; "
          f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    can_only = without_doip(gateway_bench, CAN_FD_ECU)
    runs: dict[str, list[float]] = {"raw": [], "node": [], "gateway": [], "can": []}
    for _ in range(args.repeat):  # interleaved, so slow drift of the machine hits all alike
        runs["raw"].append(raw_isotp(gateway_bench, CAN_FD_ECU, data))
        runs["node"].append(flasher_transfer(node_bench, NODE_ECU, image))
        runs["gateway"].append(flasher_transfer(gateway_bench, CAN_FD_ECU, image))
        runs["can"].append(flasher_transfer(can_only, CAN_FD_ECU, image))
    for name, values in runs.items():
        print(f"  {name} runs: {', '.join(f'{value:.0f}' for value in values)} KiB/s")
    raw, node, gateway, can = (statistics.median(runs[name]) for name in ("raw", "node", "gateway", "can"))
    print()
    print(f"{'path':<58}{'KiB/s':>9}{'ratio to raw':>14}")
    print(f"{'(a) raw ISO-TP, virtual CAN FD bus, no DoIP (16 KiB msgs)':<58}{raw:>9.1f}{1.0:>14.2f}")
    print(f"{'(b) DoIP to the ECU on Ethernet (hpc, 32 KiB blocks)':<58}{node:>9.1f}{node / raw:>14.2f}")
    print(f"{'(c) DoIP via the gateway to CAN FD (bms, 16 KiB blocks)':<58}{gateway:>9.1f}{gateway / raw:>14.2f}")
    print(f"{'(d) no DoIP: the flasher on CAN FD (bms, 16 KiB blocks)':<58}{can:>9.1f}{can / raw:>14.2f}")
    print()
    print(f"started {started:%Y-%m-%d %H:%M} UTC; load average (1, 5, 15 min) before "
          f"{_load(load_before)}, after {_load(os.getloadavg())}")
    return 0


def without_doip(config: BenchConfig, ecu: str) -> BenchConfig:
    """``config`` with ECU ``ecu`` reached over its CAN bus rather than through its DoIP entity, which
    no longer routes it (its ISO-TP stack would take the ECU's flow control too)."""
    assert config.doip is not None
    entity_name = config.ecus[ecu].via
    assert entity_name is not None
    entity = config.doip.entities[entity_name]
    routes = {name: logical for name, logical in entity.routes.items() if name != ecu}
    entities = {**config.doip.entities, entity_name: entity.model_copy(update={"routes": routes})}
    ecus = {**config.ecus, ecu: config.ecus[ecu].model_copy(update={"via": None})}
    return config.model_copy(update={"ecus": ecus, "doip": config.doip.model_copy(update={"entities": entities})})


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.1f}" for value in values)


if __name__ == "__main__":
    raise SystemExit(main())
