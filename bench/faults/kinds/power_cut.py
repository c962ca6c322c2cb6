"""Power cut: terminal 30 off, back on after ``off_for`` seconds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class PowerCutParams(FaultParams):
    off_for: float = Field(0.05, ge=0, description="seconds without supply")


class PowerCut(FaultKind):
    name = "power_cut"
    summary = "terminal 30 off, back on after off_for seconds"
    severity = "critical"
    Params = PowerCutParams

    def arm(self, when: Arming, ecu: EcuHandle, params: PowerCutParams, seed: int) -> Injection:  # type: ignore[override]
        return when.power_cut(ecu, off_for=params.off_for)
