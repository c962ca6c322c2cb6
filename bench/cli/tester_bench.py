"""The bench file with which a tester in another process reaches the ECUs ``ota-bench sim`` serves.

The served ECU is a real one to that tester: no ``virtual:`` section, no supply, no console.
Its bus is the SLCAN port ``sim`` listens on (``--slcan``), or the bench file's own bus where
another process can open it (socketcan, vcan, an adapter); python-can's ``virtual`` interface
reaches no other process. The profile is the ECU's, with room in ΔP2 for two Python processes
sharing the cores, as ``fixtures/benches/slcan-sim.yaml`` has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from bench.config import BenchConfig, load_bench
from bench.errors import ConfigError

TWO_PROCESS_MARGIN = 0.5
"""ΔP2 (seconds) the written file gives at least: tester and simulator are two processes."""
SLCAN_OPTIONS = {"sleep_after_open": 0}
"""python-can waits 2 s for a USB adapter to boot after opening it; a TCP socket is ready at once."""


def _dump(model: Any, **exclude: Any) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_defaults=True, by_alias=True, **exclude)


def tester_bench(config: BenchConfig, ecus: Sequence[str], slcan_urls: Mapping[str, str]) -> dict[str, Any]:
    """The bench file (as data) that reaches ``ecus`` of ``config`` from another process; ``slcan_urls``
    gives the SLCAN port serving a bus, a bus without one is the bench file's own."""
    buses: dict[str, Any] = {}
    profiles: dict[str, Any] = {}
    for ecu in ecus:
        ecu_config = config.ecus[ecu]
        bus_config = config.buses[ecu_config.bus]
        slcan_url = slcan_urls.get(ecu_config.bus)
        if slcan_url is None and bus_config.interface == "virtual":
            raise ConfigError(f"--write-bench: bus {ecu_config.bus!r} uses python-can's 'virtual' interface, which no "
                              "other process can open; serve it over SLCAN too (--slcan 127.0.0.1:0)",
                              file=str(config.source or ""))
        buses[ecu_config.bus] = _dump(bus_config) if slcan_url is None else {
            "interface": "slcan", "channel": slcan_url, "bitrate": bus_config.bitrate, "options": SLCAN_OPTIONS}
        profile = profiles[ecu_config.profile] = _dump(config.profiles[ecu_config.profile])
        timing = profile.setdefault("timing", {})
        timing["network_margin"] = max(config.profiles[ecu_config.profile].timing.network_margin, TWO_PROCESS_MARGIN)
    return {"name": f"{config.name}-{ecus[0] if len(ecus) == 1 else 'bench'}-tester",
            "dbc": [str(path) for path in config.dbc],
            "buses": buses,
            "profiles": profiles,
            "ecus": {ecu: _dump(config.ecus[ecu], exclude={"virtual", "power", "console"}) for ecu in ecus}}


def write_tester_bench(path: Path, config: BenchConfig, ecus: Sequence[str], slcan_urls: Mapping[str, str]) -> None:
    """Write the file and load it back, so a file ``flash`` would refuse is never left behind."""
    served = " ".join(f"--ecu {ecu}" for ecu in ecus)
    header = (f"# Written by `ota-bench sim {served}` from {config.source}: the tester's side of the ECUs it "
              "serves,\n# real ECUs to this bench (no virtual section, no supply).\n")
    try:
        path.write_text(header + yaml.safe_dump(tester_bench(config, ecus, slcan_urls), sort_keys=False))
    except OSError as exc:
        raise ConfigError(f"--write-bench: cannot write the bench file: {exc.strerror or exc}",
                          file=str(path)) from None
    load_bench(path)
