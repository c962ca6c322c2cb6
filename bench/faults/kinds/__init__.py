"""Fault kinds by name, loaded when first asked for (as python-can loads its interfaces), in a
``bench.registry.Registry`` like the power drivers.

``FAULT_KINDS`` maps each name a catalog may write under ``fault:`` to the class that declares
it (``bench.faults.kinds.base.FaultKind``). Adding a kind is one module here, one line below and
its tests; a lab adds one from its own package with an entry point of the group
``ota_hil_bench.fault_kinds`` (or ``FAULT_KINDS.register`` before the catalogs load). The
built-in order is the order of the outcome matrix's columns; other kinds follow by name.
"""

from __future__ import annotations

from functools import cache

from bench.faults.kinds.base import BUS_POINTS, FaultKind, FaultParams, Severity
from bench.registry import Registry, UnknownName

BUILTIN = {
    "power_cut": "bench.faults.kinds.power_cut:PowerCut",
    "brown_out": "bench.faults.kinds.brown_out:BrownOut",
    "intermittent_supply": "bench.faults.kinds.intermittent_supply:IntermittentSupply",
    "frame_loss": "bench.faults.kinds.frame_loss:FrameLoss",
    "delay": "bench.faults.kinds.delay:Delay",
    "corruption": "bench.faults.kinds.corruption:Corruption",
    "duplicate": "bench.faults.kinds.duplicate:Duplicate",
    "reorder": "bench.faults.kinds.reorder:Reorder",
    "partition": "bench.faults.kinds.partition:Partition",
    "bus_off": "bench.faults.kinds.bus_off:BusOff",
    "console_disconnect": "bench.faults.kinds.console_disconnect:ConsoleDisconnect",
    "tcp_reset": "bench.faults.kinds.tcp_reset:TcpReset",
    "tcp_stall": "bench.faults.kinds.tcp_stall:TcpStall",
    "tcp_half_open": "bench.faults.kinds.tcp_half_open:TcpHalfOpen",
    "tcp_delay": "bench.faults.kinds.tcp_delay:TcpDelay",
    "doip_gateway_reset": "bench.faults.kinds.doip_gateway_reset:DoipGatewayReset",
    "doip_nack": "bench.faults.kinds.doip_nack:DoipNack",
}
FAULT_KINDS = Registry("fault kind", BUILTIN, group="ota_hil_bench.fault_kinds")


def kind_names() -> tuple[str, ...]:
    """Every kind's name, the built-in ones first in their order; nothing is imported."""
    return (*BUILTIN, *(name for name in FAULT_KINDS.names() if name not in BUILTIN))


@cache
def fault_kind(name: str) -> FaultKind:
    """The kind called ``name``; ``UnknownName`` (a LookupError) naming the known ones if none."""
    kind = FAULT_KINDS.load(name)()
    if not isinstance(kind, FaultKind) or kind.name != name:
        raise TypeError(f"fault kind {name!r} is {kind!r}: a FaultKind declaring name {name!r} is expected")
    return kind


__all__ = ["BUS_POINTS", "FAULT_KINDS", "FaultKind", "FaultParams", "Severity", "UnknownName", "fault_kind",
           "kind_names"]
