"""The one interface every power instrument offers, real or virtual, and what a driver of one is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from bench.config.power_models import PowerConfig


@runtime_checkable
class PowerSupply(Protocol):
    """A supply or relay feeding one or more ECUs (terminal 30)."""

    name: str

    def on(self) -> None: ...

    def off(self) -> None: ...

    def cycle(self, off_for: float = 0.5) -> None:
        """Off, wait ``off_for`` seconds, on."""

    def is_on(self) -> bool: ...


class PowerDriver(Protocol):
    """A power driver chosen by name (``driver:`` of a bench file's ``power:`` entry) from
    ``bench.config.registries.POWER_DRIVERS``: a class that opens its instrument from the entry.

    ``from_config`` raises ``BenchFault`` when the instrument cannot be reached and
    ``ConfigError`` for settings it refuses; the supply may have ``close()``.
    """

    @classmethod
    def from_config(cls, name: str, config: PowerConfig) -> PowerSupply: ...
