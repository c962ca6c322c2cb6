"""Console disconnect: the ECU's serial console cable is pulled for ``lasting`` seconds (a loose
debug connector on a rack). The update must not notice; the bench reconnects and keeps logging."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class ConsoleDisconnectParams(FaultParams):
    lasting: float = Field(0.5, gt=0, description="seconds the console is unplugged")


class ConsoleDisconnect(FaultKind):
    name = "console_disconnect"
    summary = "the ECU's serial console unplugged for lasting seconds"
    Params = ConsoleDisconnectParams

    def settle_time(self, params: ConsoleDisconnectParams) -> float:  # type: ignore[override]
        """The cable is plugged back on its own: the runner lets that happen before judging."""
        return params.lasting

    def arm(self, when: Arming, ecu: EcuHandle, params: ConsoleDisconnectParams,  # type: ignore[override]
            seed: int) -> Injection:
        return when.disconnect_console(ecu, lasting=params.lasting)
