"""Open a python-can bus from a ``BusConfig`` — any interface python-can knows."""

from __future__ import annotations

import can

from bench.config.models import BusConfig
from bench.errors import BenchFault


def open_bus(name: str, config: BusConfig, *, channel: str | int | None = None) -> can.BusABC:
    """Open bus ``name``; ``channel`` overrides the configured one (virtual-channel isolation).

    A bus that cannot be opened (adapter unplugged, driver missing) is a fault of the bench.
    """
    kwargs: dict[str, object] = {"bitrate": config.bitrate, **config.options}
    if config.fd:
        kwargs["fd"] = True
        if config.data_bitrate:
            kwargs["data_bitrate"] = config.data_bitrate
    if config.interface == "virtual":
        kwargs["protocol"] = can.CanProtocol.CAN_FD if config.fd else can.CanProtocol.CAN_20
        kwargs.pop("fd", None)
    target = config.channel if channel is None else channel
    try:
        return can.Bus(interface=config.interface, channel=target, **kwargs)
    except (can.CanError, OSError, ImportError, ValueError) as exc:
        raise BenchFault(
            f"bus {name!r}: cannot open python-can interface {config.interface!r} channel {target!r}: {exc}"
        ) from exc
