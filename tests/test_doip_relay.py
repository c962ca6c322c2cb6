"""The DoIP TCP relay (bench/ethernet/relay.py) between a raw-socket client and server on loopback:
whole messages forwarded, diagnostic messages counted by UDS service, and the TCP faults it injects
at the Nth one: reset (RST, not FIN), stall (no data, no FIN), delay, half-open."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from bench.errors import UsageError
from bench.ethernet import DoipRelay, RelayFault
from tests.test_doip_gateway import receive

WAIT = 5.0


def diagnostic(data: bytes, source: int = 0x0E00, target: int = 0x1010) -> bytes:
    payload = struct.pack("!HH", source, target) + data
    return struct.pack("!BBHL", 0x02, 0xFD, 0x8001, len(payload)) + payload


def alive_check() -> bytes:
    return struct.pack("!BBHL", 0x02, 0xFD, 0x0007, 0)


class EchoEntity:
    """A TCP server that sends back every byte it reads and keeps what it read."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[:2]
        self.received = bytearray()
        self.closed_by_peer = threading.Event()
        self.reset_by_peer = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            while True:
                try:
                    data = connection.recv(65536)
                except ConnectionResetError:
                    self.reset_by_peer.set()
                    return
                if not data:
                    self.closed_by_peer.set()
                    return
                self.received += data
                connection.sendall(data)


@pytest.fixture
def entity() -> Iterator[EchoEntity]:
    server = EchoEntity()
    yield server
    server.listener.close()


@pytest.fixture
def relay(entity: EchoEntity) -> Iterator[DoipRelay]:
    relay = DoipRelay(entity.address).start()
    yield relay
    relay.stop()


def connect(relay: DoipRelay) -> socket.socket:
    return socket.create_connection(relay.address, timeout=WAIT)


def test_messages_pass_both_ways_and_diagnostic_ones_are_counted_by_service(relay: DoipRelay,
                                                                             entity: EchoEntity) -> None:
    messages = [alive_check(), diagnostic(b"\x10\x02"), diagnostic(b"\x36\x01" + bytes(100)), diagnostic(b"\x36\x02")]
    with connect(relay) as sock:
        for message in messages:
            sock.sendall(message[:5])  # a message split over segments is forwarded whole
            sock.sendall(message[5:])
            assert receive(sock) == message
    assert relay.diagnostic_counts == {0x10: 1, 0x36: 2}
    assert bytes(entity.received) == b"".join(messages)


def test_a_reset_at_the_nth_transfer_data_is_a_tcp_rst_to_both_peers(relay: DoipRelay, entity: EchoEntity) -> None:
    relay.inject(RelayFault("reset", service=0x36, nth=2))
    first = diagnostic(b"\x36\x01" + bytes(8))
    with connect(relay) as sock:
        sock.sendall(first)
        assert receive(sock) == first
        sock.sendall(diagnostic(b"\x36\x02" + bytes(8)))
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
    assert entity.reset_by_peer.wait(WAIT) and not entity.closed_by_peer.is_set()
    assert bytes(entity.received) == first, "the message that triggered the reset was not forwarded"
    assert [event.flag for event in relay.events if event.flag] == ["S", "R", "R"]


def test_a_stall_forwards_nothing_and_closes_nothing_then_resumes(relay: DoipRelay, entity: EchoEntity) -> None:
    relay.inject(RelayFault("stall", service=0x36, seconds=0.5))
    message = diagnostic(b"\x36\x01")
    with connect(relay) as sock:
        sock.settimeout(0.1)
        sock.sendall(message)
        with pytest.raises(TimeoutError):  # neither data nor a FIN while stalled
            sock.recv(1)
        sock.settimeout(WAIT)
        assert receive(sock) == message
    assert relay.fired == [RelayFault("stall", service=0x36, seconds=0.5)]


def test_a_delay_holds_each_message_at_least_that_long(relay: DoipRelay) -> None:
    relay.delay = 0.1
    message = diagnostic(b"\x3E\x00")
    with connect(relay) as sock:
        started = time.monotonic()
        sock.sendall(message)
        assert receive(sock) == message
        assert time.monotonic() - started >= 2 * relay.delay  # there and back


def test_half_open_closes_the_entity_to_tester_direction_only(relay: DoipRelay, entity: EchoEntity) -> None:
    relay.inject(RelayFault("half_open", service=0x36))
    trigger, later = diagnostic(b"\x36\x01"), diagnostic(b"\x36\x02")
    with connect(relay) as sock:
        sock.sendall(trigger)
        assert sock.recv(1) == b"", "the tester gets a FIN"
        sock.sendall(later)
        deadline = time.monotonic() + WAIT
        while bytes(entity.received) != trigger + later and time.monotonic() < deadline:
            time.sleep(0.01)
    assert bytes(entity.received) == trigger + later, "the tester's messages still reach the entity"


@pytest.mark.parametrize("fault, message", [
    (lambda: RelayFault("drop", service=0x36), "unknown"),
    (lambda: RelayFault("reset", service=0x36, nth=0), "counts from 1"),
    (lambda: RelayFault("stall", service=0x36), "seconds > 0"),
])
def test_a_bad_fault_is_refused_with_its_field(fault, message: str) -> None:  # noqa: ANN001
    with pytest.raises(UsageError, match=message):
        fault()


def test_faults_now_strike_every_open_connection(relay: DoipRelay, entity: EchoEntity) -> None:
    """A fault kind's action at its trigger point: no message counted, the connection as it is."""
    message = diagnostic(b"\x36\x01")
    with connect(relay) as sock:
        sock.sendall(message)
        assert receive(sock) == message
        assert relay.half_open_now() == 1
        assert sock.recv(1) == b"", "the tester gets a FIN"
        assert relay.reset_now() == 1
        assert entity.reset_by_peer.wait(WAIT)
    assert relay.reset_now() == 0, "nothing left open"
    assert [event.flag for event in relay.events if event.flag] == ["S", "F", "R"]


def test_a_stall_now_holds_messages_until_it_is_cleared(relay: DoipRelay) -> None:
    message = diagnostic(b"\x36\x01")
    with connect(relay) as sock:
        relay.stall(60.0)  # cleared long before: the message comes back within WAIT
        sock.settimeout(0.2)
        sock.sendall(message)
        with pytest.raises(TimeoutError):
            sock.recv(1)
        relay.clear()
        sock.settimeout(WAIT)
        assert receive(sock) == message
