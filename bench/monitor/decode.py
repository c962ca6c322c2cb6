"""UDS payloads to ``UdsEvent``: udsoncan names the service and parses sub-functions; a few
lines here read DIDs, routine ids and block counters, and follow each ECU's download.

``Conversation`` keeps what a single payload does not say: which TransferData block of the
current download a request is (index and offset), and which request a negative response
answers (``7F 31 78`` carries no routine id; its request did).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from udsoncan import Request, Response
from udsoncan.BaseService import BaseService

from bench.monitor.events import UdsEvent

Kind = Literal["request", "response"]

READ_DID, WRITE_DID, ROUTINE = 0x22, 0x2E, 0x31
REQUEST_DOWNLOAD, TRANSFER_DATA = 0x34, 0x36
NEGATIVE = 0x7F
POSITIVE_OFFSET = 0x40


@dataclass(frozen=True)
class Fields:
    """What one payload says by itself."""

    sid: int
    service: str
    positive: bool | None = None
    nrc: int | None = None
    subfunction: int | None = None
    suppress_response: bool = False
    did: int | None = None
    routine: int | None = None
    block_counter: int | None = None


def service_name(sid: int) -> str:
    service = BaseService.from_request_id(sid)
    return service.__name__ if service is not None else f"Unknown(0x{sid:02X})"


def decode(payload: bytes, kind: Kind) -> Fields:
    """Decode one complete UDS payload; never raises, whatever the bytes."""
    if not payload:
        return Fields(sid=-1, service="Empty", positive=None if kind == "request" else False)
    if kind == "request":
        request = Request.from_payload(payload)
        fields = Fields(sid=payload[0], service=service_name(payload[0]), subfunction=request.subfunction,
                        suppress_response=bool(request.suppress_positive_response))
    elif payload[0] == NEGATIVE:
        sid = payload[1] if len(payload) > 1 else NEGATIVE
        nrc = payload[2] if len(payload) > 2 else None
        return Fields(sid=sid, service=service_name(sid), positive=False, nrc=nrc)
    else:
        sid = payload[0] - POSITIVE_OFFSET if payload[0] >= POSITIVE_OFFSET else payload[0]
        response = Response.from_payload(payload)
        subfunction = None
        if response.valid and response.service is not None and response.service.use_subfunction() \
                and len(payload) > 1:
            subfunction = payload[1] & 0x7F
        fields = Fields(sid=sid, service=service_name(sid), positive=True, subfunction=subfunction)
    return replace(fields, **_identifiers(fields.sid, payload))


def _identifiers(sid: int, payload: bytes) -> dict[str, int]:
    """DID, routine id and block counter sit at the same place in a request and its positive response."""
    if sid in (READ_DID, WRITE_DID) and len(payload) >= 3:
        return {"did": int.from_bytes(payload[1:3], "big")}
    if sid == ROUTINE and len(payload) >= 4:
        return {"routine": int.from_bytes(payload[2:4], "big")}
    if sid == TRANSFER_DATA and len(payload) >= 2:
        return {"block_counter": payload[1]}
    return {}


@dataclass(frozen=True)
class _Block:
    counter: int
    index: int
    offset: int


class Conversation:
    """One ECU's side of the bus, followed request by response (for one monitor thread)."""

    def __init__(self, ecu: str) -> None:
        self.ecu = ecu
        self._last_request: dict[int, Fields] = {}
        self._download = False
        """A positive RequestDownload response was seen: block indexes and offsets are known."""
        self._blocks: dict[int, _Block] = {}
        """Blocks of the current download by counter (the latest one, once counters wrap)."""
        self._last_block: _Block | None = None
        self._next_offset = 0

    def event(self, payload: bytes, kind: Kind, *, functional: bool, time: float, can_time: float) -> UdsEvent:
        fields = decode(payload, kind)
        block = self._request(fields, payload) if kind == "request" else self._response(fields)
        if kind == "response" and fields.nrc is not None:
            asked = self._last_request.get(fields.sid)
            if asked is not None:  # 7F xx NRC says nothing of what was asked: take it from the request
                fields = replace(fields, subfunction=asked.subfunction, did=asked.did, routine=asked.routine)
        if block is not None:
            fields = replace(fields, block_counter=block.counter)
        return UdsEvent(
            time=time, can_time=can_time, ecu=self.ecu, kind=kind, functional=functional, payload=payload,
            sid=fields.sid, service=fields.service, positive=fields.positive, nrc=fields.nrc,
            subfunction=fields.subfunction, suppress_response=fields.suppress_response, did=fields.did,
            routine=fields.routine, block_counter=fields.block_counter,
            block_index=block.index if block and self._download else None,
            download_offset=block.offset if block and self._download else None,
            data_length=len(payload))

    def _request(self, fields: Fields, payload: bytes) -> _Block | None:
        self._last_request[fields.sid] = fields
        if fields.sid != TRANSFER_DATA or fields.block_counter is None:
            return None
        last = self._last_block
        if last is not None and last.counter == fields.block_counter:
            return last  # a repeat (lost response, retry): same block, same index and offset
        index = last.index + 1 if last is not None else 1
        block = _Block(fields.block_counter, index, self._next_offset)
        self._next_offset += len(payload) - 2
        self._blocks[block.counter] = block
        self._last_block = block
        return block

    def _response(self, fields: Fields) -> _Block | None:
        if fields.sid == REQUEST_DOWNLOAD and fields.positive:
            self._download = True
            self._blocks.clear()
            self._last_block = None
            self._next_offset = 0
        if fields.sid != TRANSFER_DATA:
            return None
        if fields.block_counter is not None:
            return self._blocks.get(fields.block_counter)
        return self._last_block  # negative: answers the last block sent
