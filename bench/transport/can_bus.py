"""Open a python-can bus from a ``BusConfig`` — any interface python-can knows."""

from __future__ import annotations

import can

from bench.config.models import BusConfig
from bench.errors import BenchFault
from bench.transport.direct_notifier import DirectNotifier
from bench.transport.virtual_bus import BenchVirtualBus

RECV_POLL = 0.01
"""Seconds a thread reading a bus (notifier, ISO-TP reader, gateway) waits per ``recv``: how
soon it notices that it must stop, so a power cut or a bench teardown is not kept waiting."""


def open_bus(name: str, config: BusConfig, *, channel: str | int | None = None) -> can.BusABC:
    """Open bus ``name``; ``channel`` overrides the configured one (virtual-channel isolation).

    A ``virtual`` bus is the bench's own subclass of python-can's (cheaper per frame, paced to
    the bitrate with ``pace: true``). A bus that cannot be opened (adapter unplugged, driver
    missing) is a fault of the bench.
    """
    kwargs: dict[str, object] = {"bitrate": config.bitrate, **config.options}
    if config.fd:
        kwargs["fd"] = True
        if config.data_bitrate:
            kwargs["data_bitrate"] = config.data_bitrate
    target = config.channel if channel is None else channel
    if config.interface == "virtual":
        kwargs["protocol"] = can.CanProtocol.CAN_FD if config.fd else can.CanProtocol.CAN_20
        kwargs.pop("fd", None)
        return BenchVirtualBus(target, pace=config.pace, **kwargs)
    try:
        return can.Bus(interface=config.interface, channel=target, **kwargs)
    except (can.CanError, OSError, ImportError, ValueError) as exc:
        raise BenchFault(
            f"bus {name!r}: cannot open python-can interface {config.interface!r} channel {target!r}: {exc}"
        ) from exc


def open_notifier(bus: can.BusABC) -> can.Notifier:
    """A notifier for ``bus`` with no listener yet: on the bench's virtual bus one that calls
    its listeners from the sending thread (``DirectNotifier``), else python-can's own."""
    if isinstance(bus, BenchVirtualBus):
        return DirectNotifier(bus)
    return can.Notifier(bus, [], timeout=RECV_POLL)
