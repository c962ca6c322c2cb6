"""Reorder: the gateway swaps each of the next ``count`` frames to the ECU with the frame after it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class ReorderParams(FaultParams):
    count: int = Field(1, ge=1, description="frames swapped with the one after them")


class Reorder(FaultKind):
    name = "reorder"
    summary = "each of the next count frames to the ECU swapped with the frame after it"
    on_bus = True
    Params = ReorderParams

    def arm(self, when: Arming, ecu: EcuHandle, params: ReorderParams, seed: int) -> Injection:  # type: ignore[override]
        return when.reorder_frames(ecu, params.count, direction="to_ecu")
