"""TCP half-open: the entity-to-tester direction of the tester's DoIP connection gets a FIN while
the tester's messages still reach the entity; the tester must leave it for a new connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class TcpHalfOpen(FaultKind):
    name = "tcp_half_open"
    summary = "a FIN to the tester only: its DoIP connection half open"
    transport = "doip"

    def arm(self, when: Arming, ecu: EcuHandle, params: FaultParams, seed: int) -> Injection:
        return when.tcp_fault(ecu, "TCP half-open", lambda relay: f"FIN to the tester on {relay.half_open_now()} "
                                                                  "connection(s)")
