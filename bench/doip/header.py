"""The DoIP generic header (ISO 13400-2, table "generic DoIP header structure") as a server reads it.

A client's framing is doipclient's; a server must also judge what it reads and answer a bad header
with a generic header negative acknowledge (payload type 0x0000), which doipclient's parser never
does (it skips bad bytes). ``judge`` says which NACK code, if any, a header earns and whether the
socket is then closed, in the order the standard checks them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from doipclient.messages import GenericDoIPNegativeAcknowledge, payload_type_to_message

HEADER = struct.Struct("!BBHL")
"""Protocol version, its inverse, payload type, payload length."""
PROTOCOL_VERSIONS = frozenset({0x02, 0x03})
"""ISO 13400-2:2012 (0x02) and :2019 (0x03)."""
DEFAULT_VERSION = 0xFF
"""Allowed in vehicle identification requests only: the client does not know the entity's version."""
DIAGNOSTIC_MESSAGE = 0x8001
"""ISO 13400-2 payload type of a diagnostic message (UDS data between two logical addresses)."""

PAYLOAD_LENGTHS: dict[int, frozenset[int] | int] = {
    0x0001: frozenset({0}), 0x0002: frozenset({6}), 0x0003: frozenset({17}),
    0x0005: frozenset({7, 11}), 0x0007: frozenset({0}), 0x0008: frozenset({2}),
    0x4001: frozenset({0}), 0x4003: frozenset({0}),
    0x8001: 5,
}
"""Payload types a gateway accepts from a client: their allowed lengths (a set), or the least (an int)."""
UDP_TYPES = frozenset({0x0001, 0x0002, 0x0003, 0x4001, 0x4003})
TCP_TYPES = frozenset({0x0005, 0x0007, 0x0008, 0x8001})


class HeaderNack(IntEnum):
    INCORRECT_PATTERN = 0x00
    UNKNOWN_PAYLOAD_TYPE = 0x01
    MESSAGE_TOO_LARGE = 0x02
    INVALID_PAYLOAD_LENGTH = 0x04


@dataclass(frozen=True)
class Header:
    version: int
    inverse: int
    payload_type: int
    length: int

    @classmethod
    def parse(cls, data: bytes) -> Header:
        return cls(*HEADER.unpack_from(data))


@dataclass(frozen=True)
class Verdict:
    nack: HeaderNack | None
    close: bool
    """The socket is closed after the NACK (a bad pattern or length leaves the stream out of step)."""


ACCEPT = Verdict(None, close=False)


def judge(header: Header, *, accepted: frozenset[int], max_length: int) -> Verdict:
    """The generic header handler's checks (ISO 13400-2 figure "generic header handler"), in order:
    pattern, payload type, message too large, payload length for its type."""
    version_ok = header.version in PROTOCOL_VERSIONS or (
        header.version == DEFAULT_VERSION and header.payload_type in {0x0001, 0x0002, 0x0003})
    if header.inverse != header.version ^ 0xFF or not version_ok:
        return Verdict(HeaderNack.INCORRECT_PATTERN, close=True)
    if header.payload_type not in accepted:
        return Verdict(HeaderNack.UNKNOWN_PAYLOAD_TYPE, close=False)
    if header.length > max_length:
        return Verdict(HeaderNack.MESSAGE_TOO_LARGE, close=False)
    allowed = PAYLOAD_LENGTHS[header.payload_type]
    fits = header.length in allowed if isinstance(allowed, frozenset) else header.length >= allowed
    if not fits:
        return Verdict(HeaderNack.INVALID_PAYLOAD_LENGTH, close=True)
    return ACCEPT


def frame(message: object, version: int = 0x02) -> bytes:
    """A doipclient message with its generic header, in ``version`` (the one the client spoke)."""
    payload = message.pack()  # type: ignore[attr-defined]
    return HEADER.pack(version, version ^ 0xFF, message.payload_type, len(payload)) + payload  # type: ignore[attr-defined]


def header_nack(code: HeaderNack, version: int = 0x02) -> bytes:
    return frame(GenericDoIPNegativeAcknowledge(int(code)), version)


def decode(payload_type: int, payload: bytes) -> object:
    """The payload as doipclient's message class of that type."""
    return payload_type_to_message[payload_type].unpack(payload, len(payload))


def answer_version(header: Header) -> int:
    """The protocol version an answer to ``header`` carries: the request's, unless it is not one of ours."""
    return header.version if header.version in PROTOCOL_VERSIONS else min(PROTOCOL_VERSIONS)
