"""Power drivers chosen by name from the bench file (``power: {kl30: {driver: scpi, ...}}``)."""

from __future__ import annotations

from bench.config.models import PowerConfig
from bench.power.protocol import PowerSupply
from bench.power.relay import SerialRelay
from bench.power.scpi import ScpiSupply
from bench.power.virtual import VirtualSupply


def open_supply(name: str, config: PowerConfig) -> PowerSupply:
    """The instrument ``config`` describes, opened and ready.

    ``virtual`` → ``VirtualSupply`` (attach virtual ECUs to it); ``scpi`` → ``ScpiSupply``;
    ``relay`` → ``SerialRelay``. Real drivers raise ``BenchFault`` when their port cannot be
    opened and ``ConfigError`` for a bad dialect or channel; close them with ``close()``.
    """
    if config.driver == "virtual":
        return VirtualSupply(name, nominal_voltage=config.nominal_voltage)
    assert config.url is not None  # PowerConfig requires a url for real drivers
    if config.driver == "scpi":
        return ScpiSupply(name, config.url, baudrate=config.baudrate, timeout=config.timeout,
                          channel=config.channel, commands=config.commands,
                          nominal_voltage=config.nominal_voltage)
    if config.driver == "relay":
        return SerialRelay(name, config.url, channel=config.channel, baudrate=config.baudrate,
                           timeout=config.timeout)
    raise AssertionError(f"PowerConfig allowed unknown driver {config.driver!r}")


def close_supply(supply: PowerSupply) -> None:
    """Release a supply's port, if it has one (a virtual supply has none)."""
    close = getattr(supply, "close", None)
    if callable(close):
        close()
