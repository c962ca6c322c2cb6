"""Fault kinds by name, loaded when first asked for (as python-can loads its interfaces).

``KINDS`` maps each name a catalog may write under ``fault:`` to the module and class that
declare it (``bench.faults.kinds.base.FaultKind``). Adding a kind is one module here, one line
in ``KINDS``, and its tests. The order of ``KINDS`` is the order of the outcome matrix's columns.
"""

from __future__ import annotations

import importlib
from functools import cache

from bench.faults.kinds.base import BUS_POINTS, FaultKind, FaultParams, Severity

KINDS: dict[str, tuple[str, str]] = {
    "power_cut": ("bench.faults.kinds.power_cut", "PowerCut"),
    "brown_out": ("bench.faults.kinds.brown_out", "BrownOut"),
    "intermittent_supply": ("bench.faults.kinds.intermittent_supply", "IntermittentSupply"),
    "frame_loss": ("bench.faults.kinds.frame_loss", "FrameLoss"),
    "delay": ("bench.faults.kinds.delay", "Delay"),
    "corruption": ("bench.faults.kinds.corruption", "Corruption"),
    "partition": ("bench.faults.kinds.partition", "Partition"),
    "bus_off": ("bench.faults.kinds.bus_off", "BusOff"),
}


def kind_names() -> tuple[str, ...]:
    return tuple(KINDS)


@cache
def fault_kind(name: str) -> FaultKind:
    """The kind called ``name``; KeyError naming the known ones if there is none."""
    if name not in KINDS:
        raise KeyError(f"unknown fault kind {name!r} (known: {', '.join(KINDS)})")
    module, cls = KINDS[name]
    kind = getattr(importlib.import_module(module), cls)()
    if kind.name != name:
        raise TypeError(f"{module}:{cls} declares name {kind.name!r} but is registered as {name!r}")
    return kind


__all__ = ["BUS_POINTS", "KINDS", "FaultKind", "FaultParams", "Severity", "fault_kind", "kind_names"]
