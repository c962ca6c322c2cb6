"""A UDS client the bench does not use for flashing: raw request bytes over can-isotp, answers
as the bytes that came back, as an ISO 14229 scanner sends and reads them.

Nothing of udsoncan or of ``bench.transport``: its own python-can bus handle, its own can-isotp
stack (physical requests), and functional requests as raw single frames on the functional id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import can
import isotp

from bench.config.key_functions import resolve_security_key
from bench.config.models import BusConfig, EcuConfig, Timing
from bench.rig import Bench

RESPONSE_PENDING = 0x78
DEFAULT, PROGRAMMING, EXTENDED = 0x01, 0x02, 0x03


@dataclass
class Exchange:
    """What came back for one request: every 0x78 first, then the final answer (None: silence)."""

    request: bytes
    pending: list[bytes] = field(default_factory=list)
    final: bytes | None = None


class RawUdsClient:
    def __init__(self, ecu: EcuConfig, bus_config: BusConfig, channel: str | int, timing: Timing, *,
                 quiet: float = 0.25, patience: float = 2.0) -> None:
        self._ecu = ecu
        self._fd = bus_config.fd
        self._timing = timing
        self.quiet = quiet
        """How long without an answer counts as silence (P2server is 50 ms on the virtual bench)."""
        self.patience = patience
        """How long to wait for an answer that must come (a busy test machine is slow)."""
        protocol = can.CanProtocol.CAN_FD if self._fd else can.CanProtocol.CAN_20
        self._bus = can.Bus(interface="virtual", channel=channel, protocol=protocol)
        mode = isotp.AddressingMode.Normal_29bits if ecu.extended_id else isotp.AddressingMode.Normal_11bits
        self._stack = isotp.CanStack(self._bus, address=isotp.Address(mode, txid=ecu.request_id,
                                                                     rxid=ecu.response_id),
                                     params={"tx_padding": 0x55, "can_fd": self._fd,
                                             "tx_data_length": 64 if self._fd else 8,
                                             "max_frame_size": 0xFFFF, "blocksize": 0, "stmin": 0})
        self._stack.start()

    def close(self) -> None:
        self._stack.stop()
        self._bus.shutdown()

    def __enter__(self) -> RawUdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, payload: bytes | str, *, functional: bool = False, silent: bool = False) -> Exchange:
        """Send, then collect the answers; ``silent`` when the request must get none (then the
        wait is ``quiet``, not ``patience``)."""
        payload = bytes.fromhex(payload) if isinstance(payload, str) else payload
        self._drain()
        if functional:
            if len(payload) > 7:
                raise ValueError(f"a functional request is one single frame: {len(payload)} bytes is too long")
            data = bytes([len(payload)]) + payload
            self._bus.send(can.Message(arbitration_id=self._ecu.functional_id, data=data.ljust(8, b"\x55"),
                                       is_extended_id=self._ecu.extended_id, is_fd=self._fd))
        else:
            self._stack.send(payload)
        exchange = Exchange(payload)
        wait = self.quiet if silent else self.patience
        while True:
            answer = self._stack.recv(block=True, timeout=wait)
            if answer is None:
                return exchange
            answer = bytes(answer)
            if answer[:1] == b"\x7f" and answer[2:3] == bytes([RESPONSE_PENDING]):
                exchange.pending.append(answer)
                wait = self._timing.p2_star + self.patience  # P2*server restarts at every 0x78
                continue
            exchange.final = answer
            return exchange

    def answer(self, payload: bytes | str, *, functional: bool = False, silent: bool = False) -> bytes | None:
        return self.request(payload, functional=functional, silent=silent).final

    def _drain(self) -> None:
        """Forget answers that came too late for an earlier request."""
        while self._stack.recv(block=False) is not None:
            pass


class Scanner:
    """A raw client for one ECU of a running bench, with the steps every scan needs."""

    def __init__(self, rig: Bench, name: str) -> None:
        handle = rig.ecu(name)
        self.config = handle.config
        self.profile = handle.profile
        self.client = RawUdsClient(handle.config, rig.config.buses[handle.config.bus], rig.channel(handle.config.bus),
                                   handle.profile.timing)
        self._key = resolve_security_key(self.profile.security)

    def enter(self, session: int) -> None:
        """From the default session of the application, by the path the ECU allows."""
        assert self.client.answer("10 01")[:2] == bytes([0x50, DEFAULT])
        if session == PROGRAMMING:
            assert self.client.answer("10 03")[:2] == bytes([0x50, EXTENDED])
        if session != DEFAULT:
            answer = self.client.answer(bytes([0x10, session]))
            assert answer[:2] == bytes([0x50, session]) and len(answer) == 6, answer

    def unlock(self) -> None:
        level = self.profile.security.level
        seed = self.client.answer(bytes([0x27, level]))
        assert seed[:2] == bytes([0x67, level]), seed
        key = self._key(level, seed[2:], dict(self.profile.security.key_params))
        assert self.client.answer(bytes([0x27, level + 1]) + key) == bytes([0x67, level + 1])
