"""What the bus monitor reports: one UDS request or response seen on the bus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from udsoncan import Response

PENDING = 0x78
"""requestCorrectlyReceived-ResponsePending: the ECU will answer later (not a final answer)."""


@dataclass(frozen=True)
class UdsEvent:
    """A reassembled ISO-TP message between the tester and one ECU, decoded as UDS.

    ``time`` is the monitor's ``time.monotonic()`` when the frame that completed the message
    was processed; ``can_time`` is that frame's own timestamp (python-can's clock).
    """

    time: float
    can_time: float
    ecu: str
    kind: Literal["request", "response"]
    functional: bool
    payload: bytes
    sid: int
    """The REQUEST service id, for responses too (positive: payload[0] - 0x40; negative: payload[1])."""
    service: str
    """udsoncan's service class name (``TransferData``) or ``Unknown(0xNN)``."""
    positive: bool | None = None
    """None for requests."""
    nrc: int | None = None
    subfunction: int | None = None
    """Without the suppressPosRspMsgIndicationBit."""
    suppress_response: bool = False
    did: int | None = None
    """First DID of Read/WriteDataByIdentifier (a negative response carries its request's)."""
    routine: int | None = None
    """RoutineControl identifier (a negative response carries its request's)."""
    block_counter: int | None = None
    """TransferData blockSequenceCounter (request, and the response answering it)."""
    block_index: int | None = None
    """1-based TransferData request count since the last positive RequestDownload response; a
    repeated counter keeps its index; responses carry the index of the request they answer.
    None while no RequestDownload was seen (monitor started mid-download)."""
    download_offset: int | None = None
    """Bytes of this download before this block's data (TransferData requests and responses)."""
    data_length: int = 0
    """len(payload)."""

    @property
    def pending(self) -> bool:
        """A 0x78 response pending: not the final answer to the request."""
        return self.nrc == PENDING

    def describe(self) -> str:
        """One line: ``bms → 36 TransferData #37 ctr=0x25 off=0x24000 4098 B``."""
        arrow = "→" if self.kind == "request" else "←"
        parts = [self.ecu, arrow, _head(self), self.service]
        if self.block_index is not None:
            parts.append(f"#{self.block_index}")
        if self.block_counter is not None:
            parts.append(f"ctr=0x{self.block_counter:02X}")
        if self.download_offset is not None and self.kind == "request":
            parts.append(f"off=0x{self.download_offset:X}")
        if self.did is not None:
            parts.append(f"did=0x{self.did:04X}")
        if self.routine is not None:
            parts.append(f"rid=0x{self.routine:04X}")
        if self.nrc is not None:
            parts.append(f"NRC 0x{self.nrc:02X} ({nrc_name(self.nrc)})")
        if self.functional:
            parts.append("functional")
        if self.suppress_response:
            parts.append("suppressPosRsp")
        if self.sid == 0x36 and self.kind == "request" or self.data_length > 8:
            parts.append(f"{self.data_length} B")
        return " ".join(parts)


def nrc_name(code: int) -> str:
    name = Response.Code.get_name(code)
    return name.replace("_", "-") if isinstance(name, str) else "unknown"


def _head(event: UdsEvent) -> str:
    """The leading payload bytes that identify the message (the rest is summarized)."""
    if not event.payload:
        return "(empty)"
    if event.nrc is not None:
        count = 3
    elif event.sid == 0x36:
        count = 1
    else:
        count = 4
    text = event.payload[:count].hex(" ").upper()
    return text + (" …" if len(event.payload) > count and event.sid != 0x36 and event.nrc is None else "")
