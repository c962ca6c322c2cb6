"""Corruption: the gateway flips a seeded data byte of the next ``count`` frames to the ECU (of
every kind, or only ISO-TP first frames: the start of a request of more than one frame)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    import can

    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class CorruptionParams(FaultParams):
    count: int = Field(1, ge=0, strict=True, description="frames corrupted")
    frames: Literal["any", "first"] = Field("any", description="frames it strikes: any, or ISO-TP first frames only")


class Corruption(FaultKind):
    name = "corruption"
    summary = "one seeded data byte of the next count frames to the ECU flipped"
    on_bus = True
    seeded = True
    Params = CorruptionParams

    def arm(self, when: Arming, ecu: EcuHandle, params: CorruptionParams, seed: int) -> Injection:  # type: ignore[override]
        return when.corrupt_frames(ecu, params.count, seed=seed, direction="to_ecu",
                                   frames=_first_frame if params.frames == "first" else None)


def _first_frame(frame: can.Message) -> bool:
    """An ISO-TP first frame (PCI type 1, the first byte's high nibble)."""
    return bool(frame.data) and frame.data[0] >> 4 == 1
