"""DoIP diagnostic message NACK: the virtual DoIP gateway the ECU is reached through refuses the
tester's next ``count`` diagnostic messages to that ECU with NACK ``code`` (ISO 13400-2: 0x02
invalid source address, which also closes the socket; 0x03 unknown target address; 0x04 message
too large; 0x05 out of memory; 0x06 target unreachable; 0x07 unknown network; 0x08 transport
protocol error). A refused message never reaches the ECU: the tester must send it again, or fail
the attempt with the NACK's meaning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from bench.faults.kinds.base import FaultKind, FaultParams

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle


class DoipNackParams(FaultParams):
    code: int = Field(0x08, ge=0x02, le=0x08, description="the NACK code (ISO 13400-2: 0x02 to 0x08)")
    count: int = Field(1, ge=1, description="diagnostic messages refused, from the next one")


class DoipNack(FaultKind):
    name = "doip_nack"
    summary = "the DoIP gateway refuses the next diagnostic messages with a NACK code"
    transport = "doip"
    Params = DoipNackParams

    def arm(self, when: Arming, ecu: EcuHandle, params: DoipNackParams, seed: int) -> Injection:  # type: ignore[override]
        return when.doip_nack(ecu, params.code, params.count)
