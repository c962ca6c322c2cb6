"""Build a virtual ECU from a bench file's entry (used by the bench and by ``ota-bench sim``)."""

from __future__ import annotations

import functools
from pathlib import Path

import cantools

from bench.config.key_functions import resolve_security_key
from bench.config.models import BenchConfig
from bench.image import load_public_key
from bench.monitor.vehicle_signals import VehicleSignals
from bench.sim.dialect import dialect_of
from bench.sim.ecu import VirtualEcu
from bench.sim.ports import DoipNode


def load_dbc(config: BenchConfig) -> cantools.database.Database:
    """All DBC files of the bench in one database (parsed once per process while unchanged)."""
    return _parse_dbc(tuple((str(path), path.stat().st_mtime_ns) for path in config.dbc))


@functools.lru_cache(maxsize=8)
def _parse_dbc(files: tuple[tuple[str, int], ...]) -> cantools.database.Database:
    database = cantools.database.Database()
    for path, _ in files:
        database.add_dbc_file(path)
    return database


def build_virtual_ecu(config: BenchConfig, name: str, *, nvm_dir: Path, channel: str | int | None,
                      dbc: cantools.database.Database | None = None) -> VirtualEcu:
    """The simulator for ECU ``name`` (which must have a ``virtual:`` section), NVM in ``nvm_dir``;
    on ``channel`` of its bus, or, for an ECU without a bus (on Ethernet), a ``DoipNode``."""
    ecu = config.ecus[name]
    virtual = ecu.virtual
    if virtual is None:
        raise ValueError(f"ECU {name!r} has no virtual: section")
    profile = config.profiles[ecu.profile]
    status_message = vehicle_signals = None
    if virtual.status_message:
        status_message = (dbc or load_dbc(config)).get_message_by_name(virtual.status_message)
    if config.restbus is not None and ecu.bus is not None and ecu.bus in config.restbus.buses:
        vehicle_signals = VehicleSignals.from_dbc(dbc or load_dbc(config))
    return VirtualEcu(
        name, ecu, profile, config.buses[ecu.bus] if ecu.bus is not None else None, channel=channel,
        nvm_dir=nvm_dir, node=DoipNode() if ecu.bus is None else None,
        key_function=resolve_security_key(profile.security),
        trusted_key=load_public_key(virtual.trusted_key) if virtual.trusted_key else None,
        factory_image=dialect_of(profile.bootloader).load_factory(virtual.factory_image)
        if virtual.factory_image else None,
        status_message=status_message,
        vehicle_signals=vehicle_signals,
    )
