"""TCP stall: the relay between tester and DoIP entity forwards nothing either way for ``seconds``
and closes nothing (a congested or flapping link), then passes on what it held."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.ethernet import DoipRelay
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class TcpStallParams(FaultParams):
    seconds: float = Field(1.0, gt=0, description="seconds nothing is forwarded")


class TcpStall(FaultKind):
    name = "tcp_stall"
    summary = "nothing forwarded on the DoIP connection for seconds, no FIN"
    transport = "doip"
    Params = TcpStallParams

    def arm(self, when: Arming, ecu: EcuHandle, params: TcpStallParams, seed: int) -> Injection:  # type: ignore[override]
        def act(relay: DoipRelay) -> str:
            relay.stall(params.seconds)
            return f"nothing forwarded for {params.seconds:.3f} s"

        return when.tcp_fault(ecu, "TCP stall", act)
