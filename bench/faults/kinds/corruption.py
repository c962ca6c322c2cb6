"""Corruption: the gateway flips a seeded data byte of the next ``count`` frames to the ECU."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class CorruptionParams(FaultParams):
    count: int = Field(1, ge=0, strict=True, description="frames corrupted")


class Corruption(FaultKind):
    name = "corruption"
    summary = "one seeded data byte of the next count frames to the ECU flipped"
    on_bus = True
    seeded = True
    Params = CorruptionParams

    def arm(self, when: Arming, ecu: EcuHandle, params: CorruptionParams, seed: int) -> Injection:  # type: ignore[override]
        return when.corrupt_frames(ecu, params.count, seed=seed, direction="to_ecu")
