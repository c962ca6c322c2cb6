"""DoIP gateway reset: the virtual DoIP gateway the ECU is reached through reboots. Every TCP socket
and routing activation is dropped (the ECUs behind it keep running); the tester must connect and
activate routing again before its requests are routed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class DoipGatewayReset(FaultKind):
    name = "doip_gateway_reset"
    summary = "the DoIP gateway reboots: sockets and routing activations dropped"
    transport = "doip"

    def arm(self, when: Arming, ecu: EcuHandle, params: FaultParams, seed: int) -> Injection:
        return when.doip_gateway_reset(ecu)
