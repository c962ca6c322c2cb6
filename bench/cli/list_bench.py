"""``ota-bench list --bench FILE``: the buses and ECUs a bench file describes."""

from __future__ import annotations

import argparse

from bench.cli.common import EXIT_OK, can_id, table
from bench.config import BusConfig, load_bench


def register(commands: argparse._SubParsersAction, bench_file: argparse.ArgumentParser) -> None:
    listing = commands.add_parser("list", parents=[bench_file], help="buses and ECUs of a bench file",
                                  description="Print the buses and ECUs a bench file describes.")
    listing.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    config = load_bench(args.bench)
    print(f"bench {config.name}  ({config.source})")
    print()
    print(table(["BUS", "INTERFACE", "CHANNEL", "CAN", "BITRATE"],
                [[name, bus.interface, str(bus.channel), "FD" if bus.fd else "classic", _bitrate(bus)]
                 for name, bus in config.buses.items()]))
    print()
    rows = []
    for name, ecu in config.ecus.items():
        profile = config.profiles[ecu.profile]
        rows.append([name, ecu.bus or f"- (Ethernet: DoIP {ecu.via})", can_id(ecu, ecu.request_id), can_id(ecu, ecu.response_id),
                     can_id(ecu, ecu.functional_id if ecu.bus else None), ecu.profile, profile.bootloader,
                     "virtual" if ecu.virtual is not None else "real", ecu.power or "- (always on)"])
    print(table(["ECU", "BUS", "REQUEST", "RESPONSE", "FUNCTIONAL", "PROFILE", "BOOTLOADER", "KIND", "POWER"], rows))
    return EXIT_OK


def _bitrate(bus: BusConfig) -> str:
    text = f"{bus.bitrate // 1000} kbit/s"
    if bus.fd and bus.data_bitrate:
        text += f", data {bus.data_bitrate // 1000} kbit/s"
    return text
