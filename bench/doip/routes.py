"""What a DoIP entity routes diagnostic messages to: one ISO-TP route on CAN per ECU behind a
gateway (``CanRoute``), or the ECU the entity itself is (``NodeRoute``, an ECU on Ethernet).

Each route is the bench's tester-side ISO-TP stack (``bench.transport.isotp_link``) on the tester
channel of the ECU's bus, so frames pass the bench's CAN gateway and its network faults as a CAN
tester's would. A thread per route hands every answer of the ECU to the gateway, and notes in the
route's ``lag`` how long after its last frame it did (``bench.transport.hop_lag``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import can

from bench.config.models import BusConfig, EcuConfig, EcuProfile
from bench.transport.can_bus import RECV_POLL
from bench.transport.hop_lag import HopLag
from bench.transport.isotp_link import AddressedStack, address, make_stack

N_AS_TIMEOUT = 1.0
"""Seconds a request may take to leave on CAN (ISO 15765-2 N_As/N_Bs: flow control included)."""


class Route(Protocol):
    name: str
    logical_address: int
    max_request: int
    """Longest UDS message the route carries (bytes); a longer one is refused with NACK 0x04."""
    network: str | None
    """The CAN network (bench bus) of the ECU; None for the ECU the entity itself is."""
    exchange: threading.Lock
    """Held while a request is sent and acknowledged: an answer is passed on only after the ACK."""
    lag: HopLag | None
    """Answers the route's thread took late (None: the route has no thread of its own)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def send(self, payload: bytes, *, functional: bool) -> bool: ...

    def drop_pending(self) -> None: ...


class NodeRoute:
    """The route to the ECU the DoIP entity is (ISO 13400-2 DoIP node): requests handed over in the
    process by ``deliver`` (False: the ECU took nothing, it is not running); its answers come back
    through ``answered``."""

    network = None
    lag = None
    """Answers come back in the ECU's own thread (its answer timing judges them)."""

    def __init__(self, name: str, logical_address: int, max_request: int,
                 deliver: Callable[..., bool], answer: Callable[[NodeRoute, bytes], None]) -> None:
        self.name = name
        self.logical_address = logical_address
        self.max_request = max_request
        self._deliver = deliver
        self._answer = answer
        self.exchange = threading.Lock()

    def start(self) -> None:
        """Nothing to open: the ECU runs in this process."""

    def stop(self) -> None:
        """Nothing to close."""

    def send(self, payload: bytes, *, functional: bool) -> bool:
        return self._deliver(payload, functional=functional)

    def drop_pending(self) -> None:
        """Nothing is buffered on the way: the ECU's own queue dies with its power."""

    def answered(self, data: bytes) -> None:
        with self.exchange:
            self._answer(self, data)


class CanRoute:
    """The diagnostic path to one ECU: physical and functional ISO-TP stacks, and a reader of answers."""

    def __init__(self, name: str, logical_address: int, ecu: EcuConfig, profile: EcuProfile, bus_config: BusConfig,
                 bus: can.BusABC, notifier: can.Notifier, answer: Callable[[CanRoute, bytes], None]) -> None:
        self.name = name
        self.logical_address = logical_address
        self.network = ecu.bus
        """The CAN network (bench bus) the route reaches its ECU on."""
        self.max_request = max(profile.max_block_length, 4095)
        self._physical = make_stack(bus, notifier, address(ecu, server=False), bus_config,
                                    max_frame_size=self.max_request, timing=profile.timing)
        self._functional = make_stack(bus, notifier, address(ecu, server=False, functional=True), bus_config,
                                      max_frame_size=self.max_request, timing=profile.timing)
        self._answer = answer
        self.exchange = threading.Lock()
        """Held while a request is sent and acknowledged: an answer is passed on only after the ACK."""
        self.lag = HopLag(f"route to {name}, ECU->tester")
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name=f"doip-route-{name}", daemon=True)

    def start(self) -> None:
        self._physical.start()
        self._functional.start()
        self._reader.start()

    def stop(self) -> None:
        self._stop.set()
        self._reader.join()
        self._physical.stop()
        self._functional.stop()

    def send(self, payload: bytes, *, functional: bool) -> bool:
        """Put ``payload`` on CAN; True once it is sent, False if ISO-TP gave up (no flow control)."""
        stack: AddressedStack = self._functional if functional else self._physical
        stack.send(payload)
        return stack.sent(N_AS_TIMEOUT + stack.params.rx_flowcontrol_timeout / 1000)

    def drop_pending(self) -> None:
        """Forget half-sent and unread messages (a gateway reset loses its buffers)."""
        self._physical.clear_tx_queue()
        self._physical.clear_rx_queue()

    def _read(self) -> None:
        while not self._stop.is_set():
            data = self._physical.recv(block=True, timeout=RECV_POLL)
            if data is None:
                continue
            # from its last frame; waiting for the exchange after it is ordering, not the host's load
            self.lag.note(time.monotonic() - self._physical.last_frame_at)
            with self.exchange:
                self._answer(self, bytes(data))
