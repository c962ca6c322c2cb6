"""The one interface every power instrument offers, real or virtual."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class PowerSupply(Protocol):
    """A supply or relay feeding one or more ECUs (terminal 30)."""

    name: str

    def on(self) -> None: ...

    def off(self) -> None: ...

    def cycle(self, off_for: float = 0.5) -> None:
        """Off, wait ``off_for`` seconds, on."""

    def is_on(self) -> bool: ...
