"""TCP delay: the relay between tester and DoIP entity holds every DoIP message ``seconds`` longer,
for ``lasting`` seconds (a slow or loaded Ethernet path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.ethernet import DoipRelay
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class TcpDelayParams(FaultParams):
    seconds: float = Field(0.05, gt=0, description="added latency of each DoIP message")
    lasting: float = Field(0.5, gt=0, description="seconds messages are delayed")


class TcpDelay(FaultKind):
    name = "tcp_delay"
    summary = "every DoIP message delayed by seconds, for lasting seconds"
    transport = "doip"
    Params = TcpDelayParams

    def arm(self, when: Arming, ecu: EcuHandle, params: TcpDelayParams, seed: int) -> Injection:  # type: ignore[override]
        def act(relay: DoipRelay) -> str:
            relay.delay = params.seconds
            when.later(params.lasting, relay.clear)
            return f"+{params.seconds * 1000:.1f} ms per message for {params.lasting:.3f} s"

        return when.tcp_fault(ecu, "TCP delay", act)
