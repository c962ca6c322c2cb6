"""Intermittent supply: ``dropouts`` short losses of terminal 30, one every ``period`` seconds,
each ``off_for`` long — a loose battery clamp or a chafed harness while the ECU is flashed.

Every dropout is scheduled when the trigger fires, so ``restore()`` cancels the ones still to
come; the runner lets the series finish first (``settle_time``), so a scenario always sees all
of them.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from bench.faults.injector import supply_of
from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class IntermittentSupplyParams(FaultParams):
    dropouts: int = Field(3, ge=1, description="how many times the supply drops out")
    off_for: float = Field(0.01, gt=0, description="seconds of each dropout")
    period: float = Field(0.1, gt=0, description="seconds from the start of one dropout to the next")

    @model_validator(mode="after")
    def _dropouts_apart(self) -> IntermittentSupplyParams:
        if self.dropouts > 1 and self.period <= self.off_for:
            raise ValueError(f"period ({self.period}) must be longer than off_for ({self.off_for}), "
                             "or the dropouts merge into one cut")
        return self


class IntermittentSupply(FaultKind):
    name = "intermittent_supply"
    summary = "dropouts short power losses of off_for seconds, one every period seconds"
    severity = "critical"
    Params = IntermittentSupplyParams

    def settle_time(self, params: IntermittentSupplyParams) -> float:  # type: ignore[override]
        return (params.dropouts - 1) * params.period + params.off_for

    def arm(self, when: Arming, ecu: EcuHandle, params: IntermittentSupplyParams,  # type: ignore[override]
            seed: int) -> Injection:
        supply = supply_of(ecu)

        # off, on, off, on...: each timer runs every switch up to its own that has not run yet, so
        # on a loaded host a late timer cannot switch out of order (and leave the supply off)
        switches = [supply.on if index % 2 else supply.off for index in range(2 * params.dropouts)]
        done = 0
        lock = threading.Lock()

        def switch_up_to(last: int) -> None:
            nonlocal done
            with lock:
                while done <= last:
                    switches[done]()
                    done += 1

        def act() -> str:
            switch_up_to(0)
            for index in range(1, len(switches)):
                when.later(index // 2 * params.period + index % 2 * params.off_for,
                           functools.partial(switch_up_to, index))
            return (f"supply {supply.name}: {params.dropouts} dropout(s) of {params.off_for:.3f} s "
                    f"every {params.period:.3f} s")

        return when.custom(ecu, "intermittent supply", act)
