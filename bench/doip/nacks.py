"""Diagnostic message negative acknowledge codes (ISO 13400-2, table "diagnostic message negative
acknowledge codes") and the NACKs a test or a fault kind injects into a virtual DoIP entity.

A code the entity produces on its own, where the standard says it applies:
0x02 invalid source address (not the one activated on the socket; the socket is then closed),
0x03 unknown target address, 0x04 diagnostic message too large (for the target's transport),
0x06 target unreachable (routed, on a network the entity serves, but the ECU is not there),
0x07 unknown network (routed, but the entity has no connection to the target's network),
0x08 transport protocol error (ISO-TP gave up: no flow control). 0x05 out of memory the virtual
entity never runs into (it buffers any message it accepts): only an injection produces it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from bench.errors import UsageError
from bench.transport.doip_link import NackCode


@dataclass
class NackInjection:
    """Refuse ``count`` diagnostic messages with ``code``, from the ``nth`` one (counted from the
    injection) whose UDS service is ``service`` (any when None) to ``target`` (any when None). A
    refused message never reaches the ECU."""

    code: int
    service: int | None = None
    nth: int = 1
    count: int = 1
    target: int | None = None
    seen: int = 0
    """Matching diagnostic messages counted so far."""
    refused: list[bytes] = field(default_factory=list)
    """The UDS data of each message refused, in order."""

    def __post_init__(self) -> None:
        if self.code not in set(NackCode):
            raise UsageError(f"inject_nack: code {self.code:#04x} is not a diagnostic message NACK code of "
                             f"ISO 13400-2; one of: {', '.join(f'{code:#04x}' for code in NackCode)}")
        if self.nth < 1 or self.count < 1:
            raise UsageError(f"inject_nack: nth={self.nth} and count={self.count} count from 1")
        if self.service is not None and not 0 <= self.service <= 0xFF:
            raise UsageError(f"inject_nack: service {self.service:#x} is not a UDS service identifier (one byte)")

    def refuses(self, target: int, data: bytes) -> bool:
        """Counts a diagnostic message; True when this injection refuses it."""
        if self.done or (self.target is not None and target != self.target) or \
                (self.service is not None and data[:1] != bytes([self.service])):
            return False
        self.seen += 1
        if self.seen < self.nth:
            return False
        self.refused.append(data)
        return True

    @property
    def done(self) -> bool:
        return len(self.refused) >= self.count


class NackInjections:
    """The injections armed on an entity, asked about each diagnostic message from any socket's thread."""

    def __init__(self) -> None:
        self._armed: list[NackInjection] = []
        self._lock = threading.Lock()

    def add(self, injection: NackInjection) -> NackInjection:
        with self._lock:
            self._armed.append(injection)
        return injection

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def code_for(self, target: int, data: bytes) -> int | None:
        """The NACK code an armed injection refuses this message with, or None."""
        with self._lock:
            for injection in self._armed:
                if injection.refuses(target, data):
                    if injection.done:
                        self._armed.remove(injection)
                    return injection.code
        return None
