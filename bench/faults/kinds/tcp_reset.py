"""TCP reset: the relay between tester and DoIP entity sends a RST to both peers of the tester's
connection (a cable pulled on the Ethernet side, a switch that lost its state)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class TcpReset(FaultKind):
    name = "tcp_reset"
    summary = "a TCP RST to tester and DoIP entity: the connection is gone, the tester connects again"
    transport = "doip"

    def arm(self, when: Arming, ecu: EcuHandle, params: FaultParams, seed: int) -> Injection:
        return when.tcp_fault(ecu, "TCP reset", lambda relay: f"RST to both peers of {relay.reset_now()} "
                                                              "connection(s)")
