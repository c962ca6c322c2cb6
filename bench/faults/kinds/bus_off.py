"""Bus-off: the ECU's bus carries nothing for ``lasting`` seconds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class BusOffParams(FaultParams):
    lasting: float = Field(0.5, ge=0, description="seconds the bus is off")


class BusOff(FaultKind):
    name = "bus_off"
    summary = "the bus carries nothing for lasting seconds"
    on_bus = True
    Params = BusOffParams

    def arm(self, when: Arming, ecu: EcuHandle, params: BusOffParams, seed: int) -> Injection:  # type: ignore[override]
        return when.bus_off(ecu, lasting=params.lasting)
