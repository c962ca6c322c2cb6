"""The SLCAN bridge: python-can's own slcan interface, over a socket:// URL, sends and receives
frames on the bus it serves; a raw client gets the answers a Lawicel adapter gives; every client
is a node of its own; `ota-bench sim --slcan` refuses what SLCAN cannot carry."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import can
import pytest

from bench.cli import main
from bench.instruments.slcan_bridge import SlcanBridge, decode_frame, encode_frame

REPO = Path(__file__).resolve().parents[1]
VIRTUAL_BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"
ANSWERS = 2.0  # seconds the bridge may take to answer or forward: generous, never reached
QUIET = 0.2  # seconds of silence that show nothing was forwarded


@pytest.fixture
def channel() -> str:
    return f"slcan-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def bridge(channel: str) -> Iterator[SlcanBridge]:
    with SlcanBridge(lambda: can.Bus(interface="virtual", channel=channel)) as served:
        yield served


@pytest.fixture
def node(channel: str) -> Iterator[can.BusABC]:
    """An ECU's side of the served bus."""
    with can.Bus(interface="virtual", channel=channel) as bus:
        yield bus


def slcan_client(bridge: SlcanBridge) -> can.BusABC:
    return can.Bus(interface="slcan", channel=bridge.url, bitrate=500_000, sleep_after_open=0)


def frame(can_id: int, data: bytes = b"", *, extended: bool = False, remote: bool = False, dlc: int | None = None
          ) -> can.Message:
    return can.Message(arbitration_id=can_id, data=data, is_extended_id=extended, is_remote_frame=remote,
                       dlc=len(data) if dlc is None else dlc)


def same_frame(a: can.Message | None, b: can.Message) -> bool:
    return a is not None and (a.arbitration_id, a.is_extended_id, a.is_remote_frame, a.dlc, bytes(a.data)) == \
        (b.arbitration_id, b.is_extended_id, b.is_remote_frame, b.dlc, bytes(b.data))


def test_python_can_slcan_sends_and_receives_through_the_bridge(bridge: SlcanBridge, node: can.BusABC) -> None:
    sent = [frame(0x7E0, bytes.fromhex("0210030000000000")), frame(0x18DA10F1, b"\x01\x02", extended=True),
            frame(0x123, remote=True, dlc=4), frame(0x7DF, b"")]
    with slcan_client(bridge) as tester:
        assert tester.get_version(ANSWERS) == (1, 1)
        assert tester.get_serial_number(ANSWERS) == "OTAB"
        for msg in sent:
            tester.send(msg)
            assert same_frame(node.recv(ANSWERS), msg)
        for msg in sent:
            node.send(msg)
            assert same_frame(tester.recv(ANSWERS), msg)


class RawClient:
    """A TCP client speaking SLCAN by hand."""

    def __init__(self, bridge: SlcanBridge) -> None:
        self.sock = socket.create_connection(("127.0.0.1", bridge.port), timeout=ANSWERS)
        self.pending = b""

    def ask(self, command: bytes) -> bytes:
        self.sock.sendall(command + b"\r")
        return self.line()

    def line(self) -> bytes:
        """The next answer or frame, with its CR or BEL."""
        while True:
            for end, byte in enumerate(self.pending):
                if byte in b"\r\a":
                    answer, self.pending = self.pending[:end + 1], self.pending[end + 1:]
                    return answer
            chunk = self.sock.recv(4096)
            assert chunk, "the bridge closed the connection"
            self.pending += chunk

    def silent(self) -> bool:
        self.sock.settimeout(QUIET)
        try:
            self.pending += self.sock.recv(4096)
        except TimeoutError:
            return not self.pending
        finally:
            self.sock.settimeout(ANSWERS)
        return False


def test_a_raw_client_gets_the_answers_of_a_lawicel_adapter(bridge: SlcanBridge, node: can.BusABC) -> None:
    client = RawClient(bridge)
    assert client.ask(b"V") == b"V0101\r"
    assert client.ask(b"N") == b"NOTAB\r"
    assert client.ask(b"") == b"\r"
    client.sock.sendall(b"t" * 100)  # no CR: more than any command, the line buffer overflows
    assert client.line() == b"\a"
    # closed: no frames either way, status unavailable
    assert client.ask(b"t7E0111") == b"\a"
    assert client.ask(b"F") == b"\a"
    node.send(frame(0x7E8, b"\x99"))
    assert client.silent()
    # bitrate only while closed
    assert client.ask(b"S6") == b"\r"
    assert client.ask(b"s031C") == b"\r"
    assert client.ask(b"O") == b"\r"
    assert client.ask(b"O") == b"\a"
    assert client.ask(b"S6") == b"\a"
    assert client.ask(b"F") == b"F00\r"
    # frames: answered z / Z, malformed ones and CAN FD refused
    assert client.ask(b"t7E0211AA") == b"z\r"
    assert same_frame(node.recv(ANSWERS), frame(0x7E0, b"\x11\xaa"))
    assert client.ask(b"T18DAF1101FF") == b"Z\r"
    assert same_frame(node.recv(ANSWERS), frame(0x18DAF110, b"\xff", extended=True))
    assert client.ask(b"r1232") == b"z\r"
    assert same_frame(node.recv(ANSWERS), frame(0x123, remote=True, dlc=2))
    for malformed in (b"t7E02AA", b"t8001AA", b"t7E09" + b"00" * 9, b"t7E01GG", b"T2000000000", b"r12320",
                      b"d7E08" + b"00" * 8, b"Y2", b"M00000000", b"Z1", b"X"):
        assert client.ask(malformed) == b"\a", malformed
    assert node.recv(QUIET) is None
    # open: frames of the bus reach the client
    node.send(frame(0x7E8, bytes.fromhex("065003003201F4AA")))
    assert client.line() == b"t7E88065003003201F4AA\r"
    node.send(frame(0x18DAF110, b"", extended=True))
    assert client.line() == b"T18DAF1100\r"
    assert client.ask(b"C") == b"\r"
    node.send(frame(0x7E8, b"\x01"))
    assert client.silent()
    # listen only: hears, never sends
    assert client.ask(b"L") == b"\r"
    assert client.ask(b"t7E0111") == b"\a"
    node.send(frame(0x7E8, b"\x02"))
    assert client.line() == b"t7E8102\r"


def test_clients_hear_the_bus_and_each_other_never_themselves(bridge: SlcanBridge, node: can.BusABC) -> None:
    with slcan_client(bridge) as tester, slcan_client(bridge) as monitor:
        monitor.get_version(ANSWERS)  # answered after the client's "O": its channel is open
        msg = frame(0x7E0, b"\x02\x3e\x00")
        tester.send(msg)
        assert same_frame(node.recv(ANSWERS), msg)
        assert same_frame(monitor.recv(ANSWERS), msg)
        assert tester.recv(QUIET) is None


def test_a_burst_arrives_whole_and_in_order(bridge: SlcanBridge, node: can.BusABC) -> None:
    burst = [frame(0x7E8, i.to_bytes(2, "big") + bytes(6)) for i in range(2000)]
    with slcan_client(bridge) as tester:
        tester.get_version(ANSWERS)  # the client's channel is open once it answers
        for msg in burst:
            node.send(msg)
        received = [tester.recv(ANSWERS) for _ in burst]
    assert all(same_frame(got, msg) for got, msg in zip(received, burst, strict=True))


def test_disconnected_clients_and_a_closed_bridge_leave_nothing_behind(channel: str) -> None:
    before = set(threading.enumerate())
    bridge = SlcanBridge(lambda: can.Bus(interface="virtual", channel=channel))
    slcan_client(bridge).shutdown()
    lingering = slcan_client(bridge)
    deadline = time.monotonic() + ANSWERS
    while bridge.clients != 1:
        assert time.monotonic() < deadline, f"{bridge.clients} clients connected, expected 1"
        time.sleep(0.01)
    bridge.close()
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", bridge.port), timeout=ANSWERS)
    with pytest.raises(can.CanOperationError):
        lingering.recv(ANSWERS)  # its adapter is gone
    with contextlib.suppress(can.CanOperationError):  # python-can writes "C" to it: fails, or goes nowhere
        lingering.shutdown()
    lingering.serialPortOrig.close()


@pytest.mark.parametrize("msg", [frame(0x000), frame(0x7FF, bytes(range(8))), frame(0x1FFFFFFF, b"\x00", extended=True),
                                 frame(0x7E0, remote=True, dlc=8), frame(0x0, remote=True, extended=True, dlc=0)])
def test_frames_survive_encoding_and_decoding(msg: can.Message) -> None:
    line = encode_frame(msg)
    assert line.endswith(b"\r")
    assert same_frame(decode_frame(line[:-1]), msg)


def test_sim_refuses_slcan_for_a_can_fd_ecu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--bench", str(VIRTUAL_BENCH), "--ecu", "bms", "--slcan", "127.0.0.1:0"]) == 2
    assert "SLCAN carries classic CAN only" in capsys.readouterr().err


@pytest.mark.parametrize("address", ["7000", "127.0.0.1:", "127.0.0.1:65536", ":7000"])
def test_sim_wants_host_and_port_for_slcan(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--bench", str(VIRTUAL_BENCH), "--ecu", "bcm", "--slcan", address]) == 2
    assert "HOST:PORT" in capsys.readouterr().err


def test_sim_on_a_taken_port_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code = main(["sim", "--bench", str(VIRTUAL_BENCH), "--ecu", "bcm", "--nvm", str(tmp_path),
                     "--slcan", f"127.0.0.1:{port}"])
    assert code == 2
    assert f"--slcan 127.0.0.1:{port}: cannot listen there" in capsys.readouterr().err
