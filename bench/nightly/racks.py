"""Racks of a pool and what a test needs of one.

A rack is one bench file (``--bench`` may name several, or a folder of them). A test needs the
ECU it names, a rack among the names of its ``bench`` marker, and capabilities of that ECU: from
the ``needs`` marker, ``virtual_only``, and the fixtures it uses (``sim``, ``power``, ``console``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.config.models import BenchConfig

BENCH_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Rack:
    """One bench file of the pool, loaded."""

    config: BenchConfig

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def path(self) -> Path:
        assert self.config.source is not None  # set by load_bench
        return self.config.source

    @property
    def hardware(self) -> bool:
        """Whether the rack has anything real: a CAN adapter, an instrument, a serial port."""
        return (any(bus.interface != "virtual" for bus in self.config.buses.values())
                or any(power.driver != "virtual" for power in self.config.power.values())
                or any(serial.url != "pty" for serial in self.config.serial.values()))

    def describe(self) -> str:
        return f"{self.name!r} ({self.path})"


Check = Callable[[BenchConfig, str], bool]
CAPABILITIES: dict[str, tuple[Check, str]] = {
    "virtual": (lambda bench, ecu: bench.ecus[ecu].virtual is not None, "ECU {ecu!r} is not simulated"),
    "power": (lambda bench, ecu: bench.ecus[ecu].power is not None, "ECU {ecu!r} has no power supply"),
    "console": (lambda bench, ecu: bench.ecus[ecu].console is not None, "ECU {ecu!r} has no console"),
    "gateway": (lambda bench, ecu: bench.buses[bench.ecus[ecu].bus].gatewayed,
                "the bus of ECU {ecu!r} has no gateway"),
    "can_fd": (lambda bench, ecu: bench.buses[bench.ecus[ecu].bus].fd, "the bus of ECU {ecu!r} is not CAN FD"),
}
"""What the ``needs`` marker may ask of a test's ECU, and how a rack that lacks it is described."""


@dataclass(frozen=True)
class RackNeeds:
    """What a test needs of the rack it runs on."""

    ecu: str | None = None
    """The ECU the test names; None: the rack's first ECU will do."""
    benches: tuple[str, ...] = ()
    """Rack names of the test's ``bench`` marker; empty: any."""
    capabilities: frozenset[str] = field(default_factory=frozenset)

    def unmet(self, rack: Rack) -> str | None:
        """Why ``rack`` cannot run the test; None when it can."""
        bench = rack.config
        if self.ecu is not None and self.ecu not in bench.ecus:
            return f"bench {bench.name!r} has no ECU {self.ecu!r}"
        if self.benches and bench.name not in self.benches:
            return f"needs bench {' or '.join(self.benches)}, this is {bench.name!r}"
        ecu = self.ecu or next(iter(bench.ecus))
        missing = [CAPABILITIES[name][1].format(ecu=ecu) for name in sorted(self.capabilities)
                   if not CAPABILITIES[name][0](bench, ecu)]
        return f"{', '.join(missing)} on bench {bench.name!r}" if missing else None


def rack_files(paths: Iterable[Path]) -> list[Path]:
    """The bench files ``paths`` name: a file as it is, a folder as its YAML files (sorted);
    each file once, in the order given."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            found.update(dict.fromkeys(sorted(child for child in path.iterdir()
                                              if child.suffix in BENCH_SUFFIXES and child.is_file())))
        else:
            found[path] = None
    return list(found)
