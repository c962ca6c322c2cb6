"""Power drivers chosen by name from the bench file (``power: {kl30: {driver: scpi, ...}}``)
through the registry ``bench.config.registries.POWER_DRIVERS``: built-in ones, ones registered at
run time and ones installed under the entry-point group ``ota_hil_bench.power``."""

from __future__ import annotations

from bench.config.power_models import PowerConfig
from bench.config.registries import POWER_DRIVERS
from bench.power.protocol import PowerDriver, PowerSupply


def open_supply(name: str, config: PowerConfig) -> PowerSupply:
    """The instrument ``config`` describes, opened and ready, by its driver's ``from_config``.

    ``virtual`` → ``VirtualSupply`` (attach virtual ECUs to it); ``scpi`` → ``ScpiSupply``;
    ``relay`` → ``SerialRelay``. Real drivers raise ``BenchFault`` when their port cannot be
    opened and ``ConfigError`` for a bad dialect or channel; close them with ``close()``.
    """
    driver: type[PowerDriver] = POWER_DRIVERS.load(config.driver)
    return driver.from_config(name, config)


def close_supply(supply: PowerSupply) -> None:
    """Release a supply's port, if it has one (a virtual supply has none)."""
    close = getattr(supply, "close", None)
    if callable(close):
        close()
