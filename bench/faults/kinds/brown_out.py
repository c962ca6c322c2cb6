"""Brown-out: the supply dips to ``volts`` for ``lasting`` seconds, then back to nominal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class BrownOutParams(FaultParams):
    volts: float = Field(5.0, ge=0, description="supply voltage during the dip")
    lasting: float = Field(0.2, ge=0, description="seconds the dip lasts")


class BrownOut(FaultKind):
    name = "brown_out"
    summary = "the supply dips to volts for lasting seconds"
    severity = "critical"
    Params = BrownOutParams

    def arm(self, when: Arming, ecu: EcuHandle, params: BrownOutParams, seed: int) -> Injection:  # type: ignore[override]
        return when.brown_out(ecu, volts=params.volts, lasting=params.lasting)
