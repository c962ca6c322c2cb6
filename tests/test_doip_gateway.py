"""The virtual DoIP gateway's answers, byte for byte, to an independent client: raw sockets and
struct-built frames here (ISO 13400-2 tables), not the doipclient the bench's tester uses."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.doip import DoipGateway
from bench.errors import BenchFault, UsageError
from bench.rig import Bench

REPO = Path(__file__).resolve().parents[1]
TESTER, OTHER_TESTER, GATEWAY, BCM, BMS = 0x0E00, 0x0E01, 0x1000, 0x1010, 0x1011
VIN = b"WOTAHILBENCH00001"
EID = bytes.fromhex("020000000001")
WAIT = 5.0


def doip(payload_type: int, payload: bytes = b"", version: int = 0x02) -> bytes:
    return struct.pack("!BBHL", version, version ^ 0xFF, payload_type, len(payload)) + payload


def activation(source: int = TESTER, kind: int = 0x00) -> bytes:
    return doip(0x0005, struct.pack("!HBL", source, kind, 0))


def activation_answer(code: int, source: int = TESTER) -> bytes:
    return doip(0x0006, struct.pack("!HHBL", source, GATEWAY, code, 0))


def diagnostic(target: int, data: bytes, source: int = TESTER) -> bytes:
    return doip(0x8001, struct.pack("!HH", source, target) + data)


def diagnostic_nack(target: int, code: int, source: int = TESTER) -> bytes:
    return doip(0x8003, struct.pack("!HHB", target, source, code))


def header_nack(code: int) -> bytes:
    return doip(0x0000, bytes([code]))


def receive(sock: socket.socket) -> bytes:
    """One DoIP message, header and payload."""
    header = _exactly(sock, 8)
    return header + _exactly(sock, struct.unpack("!L", header[4:])[0])


def _exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, f"the gateway closed the socket after {data.hex(' ')!r}"
        data += chunk
    return data


def closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    """The DoIP bench with bcm behind the gateway; bms is routed by the file but not brought up."""
    config = load_bench(REPO / "fixtures" / "benches" / "doip.yaml")
    with Bench(config, workdir=tmp_path_factory.mktemp("doip"), ecus=["bcm"]) as bench:
        yield bench


@pytest.fixture
def gateway(rig: Bench) -> Iterator[DoipGateway]:
    gateway = rig.doip_gateways["central-gateway"]
    gateway.reset()  # no socket or activation left from another test
    yield gateway
    gateway.cancel_nacks()


@pytest.fixture
def connect(gateway: DoipGateway) -> Iterator:
    opened: list[socket.socket] = []

    def open_socket() -> socket.socket:
        sock = socket.create_connection(gateway.address, timeout=WAIT)
        opened.append(sock)
        return sock

    yield open_socket
    for sock in opened:
        sock.close()


def activated(connect, source: int = TESTER) -> socket.socket:  # noqa: ANN001 - the fixture's function
    sock = connect()
    sock.sendall(activation(source))
    assert receive(sock) == activation_answer(0x10, source)
    return sock


def test_routing_activation_is_accepted_for_a_tester_address(connect) -> None:  # noqa: ANN001
    sock = connect()
    sock.sendall(activation())
    assert receive(sock) == bytes.fromhex("02 fd 0006 00000009 0e00 1000 10 00000000")


@pytest.mark.parametrize(("source", "kind", "code"), [(0x0001, 0x00, 0x00), (TESTER, 0xE0, 0x06)],
                         ids=["unknown source address", "unsupported activation type"])
def test_routing_activation_is_denied(connect, source: int, kind: int, code: int) -> None:  # noqa: ANN001
    sock = connect()
    sock.sendall(activation(source, kind))
    assert receive(sock) == activation_answer(code, source)
    if code == 0x00:
        assert closed(sock), "a denial for an unknown source address closes the socket"


def test_a_second_source_address_on_an_activated_socket_is_refused_and_closed(connect) -> None:  # noqa: ANN001
    sock = activated(connect)
    sock.sendall(activation(OTHER_TESTER))
    assert receive(sock) == activation_answer(0x02, OTHER_TESTER)
    assert closed(sock)


ALIVE_CHECK_REQUEST = bytes.fromhex("02 fd 0007 00000000")


def alive_check_answered(sock: socket.socket, source: int) -> None:
    """The gateway's alive check request on ``sock``, answered as a live tester does."""
    assert receive(sock) == ALIVE_CHECK_REQUEST
    sock.sendall(doip(0x0008, struct.pack("!H", source)))


def test_a_source_address_active_on_a_live_socket_is_refused_after_an_alive_check(connect) -> None:  # noqa: ANN001
    first = activated(connect)
    second = connect()
    second.sendall(activation())
    alive_check_answered(first, TESTER)
    assert receive(second) == activation_answer(0x03)
    assert closed(second)
    first.sendall(doip(0x0007))  # the live socket keeps its registration
    assert receive(first) == bytes.fromhex("02 fd 0008 00000002 0e00")


def test_a_source_address_on_a_silent_socket_moves_to_the_new_socket(connect) -> None:  # noqa: ANN001
    first = activated(connect)
    second = connect()
    second.sendall(activation())
    assert receive(first) == ALIVE_CHECK_REQUEST  # and no answer within T_TCP_Alive_Check
    assert receive(second) == activation_answer(0x10)
    assert closed(first), "the silent socket is closed"
    second.sendall(diagnostic(BCM, bytes.fromhex("3e 00")))
    assert receive(second) == bytes.fromhex("02 fd 8002 00000005 1010 0e00 00")


def test_a_source_address_on_a_socket_the_tester_closed_is_free_again(connect) -> None:  # noqa: ANN001
    first = activated(connect)
    first.close()
    second = connect()
    second.sendall(activation())
    assert receive(second) == activation_answer(0x10)


def test_past_the_entitys_sockets_activation_says_all_sockets_are_registered(connect) -> None:  # noqa: ANN001
    first, second = activated(connect, TESTER), activated(connect, OTHER_TESTER)  # max_sockets defaults to 2
    third = connect()
    third.sendall(activation(0x0E02))
    alive_check_answered(first, TESTER)
    alive_check_answered(second, OTHER_TESTER)
    assert receive(third) == activation_answer(0x01, 0x0E02)
    assert closed(third)


def test_when_all_sockets_are_registered_a_silent_one_is_freed_for_the_new_tester(connect) -> None:  # noqa: ANN001
    first, second = activated(connect, TESTER), activated(connect, OTHER_TESTER)
    third = connect()
    third.sendall(activation(0x0E02))
    alive_check_answered(first, TESTER)
    assert receive(second) == ALIVE_CHECK_REQUEST  # unanswered
    assert receive(third) == activation_answer(0x10, 0x0E02)
    assert closed(second)
    first.sendall(doip(0x0007))
    assert receive(first) == bytes.fromhex("02 fd 0008 00000002 0e00")


def test_alive_check_is_answered_with_the_activated_source_address(connect) -> None:  # noqa: ANN001
    sock = activated(connect)
    sock.sendall(doip(0x0007))
    assert receive(sock) == bytes.fromhex("02 fd 0008 00000002 0e00")


def test_a_diagnostic_message_is_acknowledged_before_the_ecus_answer(connect) -> None:  # noqa: ANN001
    sock = activated(connect)
    sock.sendall(diagnostic(BCM, bytes.fromhex("22 f1 89")))
    assert receive(sock) == bytes.fromhex("02 fd 8002 00000005 1010 0e00 00")
    answer = receive(sock)
    assert answer[:12] == bytes.fromhex("02 fd 8001") + struct.pack("!L", len(answer) - 8) + \
        bytes.fromhex("1010 0e00")
    assert answer[12:15] == bytes.fromhex("62 f1 89") and answer[15:] == b"1.0.0"


def test_a_diagnostic_message_before_routing_activation_is_refused_and_the_socket_closed(connect) -> None:  # noqa: ANN001
    sock = connect()
    sock.sendall(diagnostic(BCM, bytes.fromhex("3e 00")))
    assert receive(sock) == diagnostic_nack(BCM, 0x02)
    assert closed(sock)


ABSENT_ON_BODY = 0x1012


@pytest.mark.parametrize(("target", "size", "code"), [
    (0x2000, 2, 0x03), (ABSENT_ON_BODY, 2, 0x06), (BMS, 2, 0x07), (BCM, 0x1100, 0x04)],
    ids=["unknown target address", "target unreachable", "unknown network", "too large for the target"])
def test_diagnostic_message_nack(gateway: DoipGateway, connect, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
                                 target: int, size: int, code: int) -> None:
    """bms is routed by the file on the powertrain network, which this bench did not bring up: the
    gateway has no connection to it (0x07); an ECU routed on the body network the gateway serves,
    but not there, is unreachable (0x06)."""
    monkeypatch.setitem(gateway.networks, ABSENT_ON_BODY, "body")
    sock = activated(connect)
    sock.sendall(diagnostic(target, bytes([0x3E] + [0x00] * (size - 1))))
    assert receive(sock) == diagnostic_nack(target, code)
    sock.sendall(doip(0x0007))  # the socket stays open
    assert receive(sock) == bytes.fromhex("02 fd 0008 00000002 0e00")


def test_a_request_the_ecu_never_flow_controls_is_a_transport_protocol_error(rig: Bench, connect) -> None:  # noqa: ANN001
    sock = activated(connect)
    power = rig.supplies["kl30_body"]
    power.off()
    try:
        sock.sendall(diagnostic(BCM, bytes(20)))  # a first frame: nobody sends flow control (N_Bs)
        assert receive(sock) == diagnostic_nack(BCM, 0x08)
    finally:
        power.on()


def diagnostic_ack(target: int = BCM) -> bytes:
    return doip(0x8002, struct.pack("!HHB", target, TESTER, 0x00))


def test_an_injected_nack_refuses_the_nth_message_of_a_service_and_lets_the_rest_through(
        gateway: DoipGateway, connect) -> None:  # noqa: ANN001
    injection = gateway.inject_nack(0x05, service=0x22, nth=2)
    sock = activated(connect)
    sock.sendall(diagnostic(BCM, bytes.fromhex("3e 00")))  # another service: not counted
    assert receive(sock) == diagnostic_ack() and receive(sock) == doip(0x8001, bytes.fromhex("1010 0e00 7e 00"))
    for nth in (1, 2, 3):
        sock.sendall(diagnostic(BCM, bytes.fromhex("22 f1 89")))
        if nth == 2:
            assert receive(sock) == bytes.fromhex("02 fd 8003 00000005 1010 0e00 05")  # out of memory
        else:
            assert receive(sock) == diagnostic_ack() and receive(sock)[12:15] == bytes.fromhex("62 f1 89")
    assert injection.refused == [bytes.fromhex("22 f1 89")] and injection.done


def test_an_injected_invalid_source_address_nack_closes_the_socket(gateway: DoipGateway, connect) -> None:  # noqa: ANN001
    gateway.inject_nack(0x02, target=BCM)
    sock = activated(connect)
    sock.sendall(diagnostic(BCM, bytes.fromhex("3e 00")))
    assert receive(sock) == diagnostic_nack(BCM, 0x02)
    assert closed(sock)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"code": 0x09}, r"code 0x09 is not a diagnostic message NACK code of ISO 13400-2; one of: 0x02, "),
    ({"code": 0x06, "nth": 0}, r"nth=0 and count=1 count from 1"),
    ({"code": 0x06, "service": 0x136}, r"service 0x136 is not a UDS service identifier"),
], ids=["reserved code", "nth from 1", "service of two bytes"])
def test_a_nack_injection_the_standard_cannot_produce_is_a_usage_error(
        gateway: DoipGateway, arguments: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        gateway.inject_nack(**arguments)


@pytest.mark.parametrize(("frame", "code", "closes"), [
    (bytes.fromhex("02 fc 0007 00000000"), 0x00, True),
    (bytes.fromhex("05 fa 0007 00000000"), 0x00, True),
    (doip(0x1234, b"\x00\x00"), 0x01, False),
    (bytes.fromhex("02 fd 8001 7fffffff"), 0x02, False),
    (doip(0x0005, b"\x0e\x00\x00"), 0x04, True),
], ids=["inverse byte wrong", "unknown protocol version", "unknown payload type", "message too large",
        "invalid payload length"])
def test_generic_header_nack(connect, frame: bytes, code: int, closes: bool) -> None:  # noqa: ANN001
    sock = connect()
    sock.sendall(frame)
    assert receive(sock) == header_nack(code)
    if closes:
        assert closed(sock)
    elif code == 0x01:  # its payload was skipped: the next message is read as one
        sock.sendall(activation())
        assert receive(sock) == activation_answer(0x10)


def test_a_gateway_reset_drops_sockets_and_routes_until_routing_is_activated_again(gateway: DoipGateway,
                                                                                   connect) -> None:  # noqa: ANN001
    sock = activated(connect)
    gateway.reset()
    assert closed(sock)
    fresh = connect()
    fresh.sendall(diagnostic(BCM, bytes.fromhex("3e 00")))
    assert receive(fresh) == diagnostic_nack(BCM, 0x02), "no route survives the reset"
    again = activated(connect)
    again.sendall(diagnostic(BCM, bytes.fromhex("3e 00")))
    assert receive(again) == bytes.fromhex("02 fd 8002 00000005 1010 0e00 00")
    assert receive(again) == doip(0x8001, bytes.fromhex("1010 0e00 7e 00"))


IDENTIFICATION = doip(0x0004, VIN + struct.pack("!H", GATEWAY) + EID + EID + b"\x00\x00")


@pytest.mark.parametrize("request_frame", [
    doip(0x0001), doip(0x0001, version=0xFF), doip(0x0002, EID), doip(0x0003, VIN)],
    ids=["plain", "default protocol version", "with EID", "with VIN"])
def test_vehicle_identification_over_udp(gateway: DoipGateway, request_frame: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(WAIT)
        udp.sendto(request_frame, gateway.address)
        assert udp.recv(0x1000) == IDENTIFICATION


def test_entity_status_says_its_sockets_and_largest_message(gateway: DoipGateway, connect) -> None:  # noqa: ANN001
    activated(connect)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(WAIT)
        udp.sendto(doip(0x4001), gateway.address)
        # node type gateway, 2 sockets at most, 1 open, 0x10005 bytes at most
        assert udp.recv(0x1000) == bytes.fromhex("02 fd 4002 00000007 00 02 01 00010005")


def test_a_datagram_shorter_than_its_header_says_is_refused(gateway: DoipGateway) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(WAIT)
        udp.sendto(doip(0x0003, VIN)[:-1], gateway.address)
        assert udp.recv(0x1000) == header_nack(0x04)


def test_vehicle_identification_for_another_vin_is_not_answered(gateway: DoipGateway) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.5)
        udp.sendto(doip(0x0003, b"X" * 17), gateway.address)
        udp.sendto(doip(0x0001), gateway.address)  # answered: so the first one's answer would come first
        assert udp.recv(0x1000) == IDENTIFICATION


def test_the_vehicle_announcement_is_sent_at_power_on(rig: Bench) -> None:
    entity = rig.config.doip.entities["central-gateway"]  # type: ignore[union-attr]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(WAIT)
        announcer = DoipGateway("announcer", entity, announce_to=[listener.getsockname()])
        announcer.start()
        try:
            assert listener.recv(0x1000) == IDENTIFICATION
        finally:
            announcer.stop()


def test_a_port_in_use_is_a_bench_fault_naming_the_entity(rig: Bench, gateway: DoipGateway) -> None:
    entity = rig.config.doip.entities["central-gateway"]  # type: ignore[union-attr]
    taken = entity.model_copy(update={"port": gateway.address[1]})
    with pytest.raises(BenchFault, match=r"entity 'second' cannot listen on 127\.0\.0\.1:\d+ "
                                         r"\(doip\.entities\.second\.host/port\)"):
        DoipGateway("second", taken)
