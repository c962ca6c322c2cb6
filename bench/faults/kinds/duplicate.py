"""Duplicate: the gateway sends the next ``count`` frames to the ECU twice."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class DuplicateParams(FaultParams):
    count: int = Field(1, ge=1, description="frames sent twice")


class Duplicate(FaultKind):
    name = "duplicate"
    summary = "the next count frames to the ECU arrive twice"
    on_bus = True
    Params = DuplicateParams

    def arm(self, when: Arming, ecu: EcuHandle, params: DuplicateParams, seed: int) -> Injection:  # type: ignore[override]
        return when.duplicate_frames(ecu, params.count, direction="to_ecu")
