"""Delay: the gateway holds each of the ECU's frames ``seconds`` longer, for ``lasting`` seconds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class DelayParams(FaultParams):
    seconds: float = Field(0.01, ge=0, description="added latency of each frame")
    lasting: float = Field(0.5, ge=0, description="seconds frames are delayed")


class Delay(FaultKind):
    name = "delay"
    summary = "every frame of the ECU delayed by seconds, for lasting seconds"
    on_bus = True
    Params = DelayParams

    def arm(self, when: Arming, ecu: EcuHandle, params: DelayParams, seed: int) -> Injection:  # type: ignore[override]
        return when.delay_frames(ecu, params.seconds, lasting=params.lasting)
