"""Frame loss: the gateway drops a seeded ``ratio`` of the ECU's frames for ``lasting`` seconds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class FrameLossParams(FaultParams):
    ratio: float = Field(0.02, ge=0, le=1, description="fraction of frames lost, 0..1")
    lasting: float = Field(0.5, ge=0, description="seconds frames are lost")


class FrameLoss(FaultKind):
    name = "frame_loss"
    summary = "a seeded ratio of the ECU's frames lost for lasting seconds"
    on_bus = True
    seeded = True
    Params = FrameLossParams

    def arm(self, when: Arming, ecu: EcuHandle, params: FrameLossParams, seed: int) -> Injection:  # type: ignore[override]
        return when.lose_frames(ecu, params.ratio, seed=seed, lasting=params.lasting)
