"""UDP_DISCOVERY of a virtual DoIP entity (ISO 13400-2): vehicle identification, entity status,
diagnostic power mode, and the vehicle announcement at power on.

One datagram in, at most one out; nothing here touches a diagnostic message. Kept apart from the
entity's TCP_DATA side (``bench.doip.gateway``: sockets, routing activation, routing) because it
is a protocol of its own on a socket of its own; the gateway owns the socket and the thread, and
tells it how many TCP sockets are open and whether the entity is a node.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Sequence

from doipclient.messages import (
    DiagnosticPowerModeResponse,
    EntityStatusResponse,
    VehicleIdentificationRequestWithEID,
    VehicleIdentificationRequestWithVIN,
    VehicleIdentificationResponse,
)

from bench.config.doip_models import DoipEntityConfig
from bench.doip.header import HEADER, UDP_TYPES, Header, HeaderNack, answer_version, decode, frame, header_nack, judge


class VehicleDiscovery:
    """The UDP side of the entity ``entity`` on ``udp`` (bound by the gateway): answers while
    ``powered`` is set, until ``stop`` is. ``status()`` is (open TCP sockets, the entity is a node)."""

    def __init__(self, entity: DoipEntityConfig, udp: socket.socket, *, powered: threading.Event,
                 stop: threading.Event, status: Callable[[], tuple[int, bool]], max_payload: int) -> None:
        self.entity = entity
        self._udp = udp
        self._powered = powered
        self._stop = stop
        self._status = status
        self._max_payload = max_payload

    def identification(self) -> VehicleIdentificationResponse:
        entity = self.entity
        return VehicleIdentificationResponse(entity.vin, entity.logical_address,
                                             entity.eid.to_bytes(6, "big"), entity.eid.to_bytes(6, "big"), 0x00, 0x00)

    def announce(self, targets: Sequence[tuple[str, int]]) -> None:
        """The vehicle announcement (0x0004) to each of ``targets``."""
        announcement = frame(self.identification())
        for target in targets:
            with contextlib.suppress(OSError):
                self._udp.sendto(announcement, target)

    def serve(self) -> None:
        """The discovery thread: every datagram answered (or not) until ``stop``."""
        while not self._stop.is_set():
            try:
                data, sender = self._udp.recvfrom(0x10000)
            except (TimeoutError, OSError):
                continue
            if self._powered.is_set():
                answer = self.answer(data)
                if answer is not None:
                    with contextlib.suppress(OSError):
                        self._udp.sendto(answer, sender)

    def answer(self, data: bytes) -> bytes | None:
        if len(data) < HEADER.size:
            return None
        header = Header.parse(data)
        verdict = judge(header, accepted=UDP_TYPES, max_length=self._max_payload)
        version = answer_version(header)
        if verdict.nack is not None:
            return header_nack(verdict.nack, version)
        if header.length != len(data) - HEADER.size:  # one message per datagram, whole
            return header_nack(HeaderNack.INVALID_PAYLOAD_LENGTH, version)
        request = decode(header.payload_type, data[HEADER.size:HEADER.size + header.length])
        entity = self.entity
        if isinstance(request, VehicleIdentificationRequestWithVIN) and request.vin != entity.vin:
            return None
        if isinstance(request, VehicleIdentificationRequestWithEID) and request.eid != entity.eid.to_bytes(6, "big"):
            return None
        if header.payload_type == 0x4001:
            open_sockets, node = self._status()
            return frame(EntityStatusResponse(0x01 if node else 0x00, entity.max_sockets, open_sockets,
                                              self._max_payload), version)
        if header.payload_type == 0x4003:
            return frame(DiagnosticPowerModeResponse(0x01), version)
        return frame(self.identification(), version)
