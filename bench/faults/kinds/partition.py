"""Partition: the gateway passes no frame between tester and ECU for ``lasting`` seconds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class PartitionParams(FaultParams):
    lasting: float = Field(0.5, ge=0, description="seconds tester and ECU are cut apart")


class Partition(FaultKind):
    name = "partition"
    summary = "no frame between tester and ECU for lasting seconds"
    on_bus = True
    Params = PartitionParams

    def arm(self, when: Arming, ecu: EcuHandle, params: PartitionParams, seed: int) -> Injection:  # type: ignore[override]
        return when.partition(ecu, lasting=params.lasting)
