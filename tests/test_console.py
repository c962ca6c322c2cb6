"""The ECU serial console over a pty and over a socket: expect what the other end prints,
a missing line is an ECU finding with the console's tail, the log keeps every byte, the
disconnect fault is marked in the log, a port that is not there is a BenchFault."""

from __future__ import annotations

import os
import socket
import threading
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.console import DISCONNECTED, RECONNECTED, ConsoleTimeout, SerialConsole
from bench.errors import BenchFault

ARRIVES = 5.0  # seconds text the other end already wrote may take to arrive: never reached
NEVER = 0.2  # expect timeout for text that is never printed


class Pty:
    """The ECU's end of a serial line: write into ``master``; the console opens ``path``."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def pty() -> Iterator[Pty]:
    end = Pty()
    yield end
    end.close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A terminal server's port; ``accept()`` it after the console connected."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(ARRIVES)
        yield server


def socket_url(server: socket.socket) -> str:
    return f"socket://127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def console(pty: Pty, tmp_path: Path) -> Iterator[SerialConsole]:
    with SerialConsole("bms", pty.path, log_path=tmp_path / "logs" / "bms.log") as opened:
        yield opened


def test_expect_a_line_the_ecu_prints_on_a_pty(console: SerialConsole, pty: Pty) -> None:
    pty.write(b"U-Boot 2024.01\r\nbooting bank B, version 2.0.0\r\n")
    match = console.expect(r"bank (\w), version ([\d.]+)", timeout=ARRIVES)
    assert match.groups() == ("B", "2.0.0")


def test_expect_a_line_over_a_socket(listener: socket.socket, tmp_path: Path) -> None:
    with SerialConsole("bcm", socket_url(listener), log_path=tmp_path / "bcm.log") as console:
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b"app: ready\n")
            assert console.expect("ready", timeout=ARRIVES).group() == "ready"


def test_expect_searches_only_text_after_the_previous_match(console: SerialConsole, pty: Pty) -> None:
    pty.write(b"boot A\nboot B\n")
    assert console.expect(r"boot (\w)", timeout=ARRIVES).group(1) == "A"
    assert console.expect(r"boot (\w)", timeout=ARRIVES).group(1) == "B"
    with pytest.raises(ConsoleTimeout):
        console.expect(r"boot (\w)", timeout=NEVER)


def test_text_printed_before_expect_is_still_found(console: SerialConsole, pty: Pty) -> None:
    pty.write(b"watchdog armed\n")
    console.expect("armed", timeout=ARRIVES)
    pty.write(b"early\nlate\n")
    console.expect("late", timeout=ARRIVES)
    with pytest.raises(ConsoleTimeout):  # consumed by the previous match
        console.expect("early", timeout=NEVER)


def test_a_line_never_printed_is_an_ecu_finding_with_the_tail(console: SerialConsole, pty: Pty) -> None:
    pty.write(b"".join(b"line %02d\n" % n for n in range(1, 26)))
    console.expect("line 25", timeout=ARRIVES)
    with pytest.raises(ConsoleTimeout) as timeout:
        console.expect("rollback complete", timeout=NEVER)
    assert isinstance(timeout.value, AssertionError) and not isinstance(timeout.value, BenchFault)
    message = str(timeout.value)
    assert f"ECU console 'bms' ({pty.path}) did not print 'rollback complete' within {NEVER} s" in message
    assert all(f"line {n:02d}" in message for n in range(6, 26))
    assert "line 05" not in message


def test_the_log_holds_every_byte_as_it_arrives(console: SerialConsole, pty: Pty) -> None:
    sent = b"boot\r\n\xff\x00binary\n" + bytes(range(256)) + b"\nno newline yet"
    pty.write(sent)
    console.expect("no newline yet", timeout=ARRIVES)
    assert console.log_path.read_bytes() == sent  # before close: written as it arrived


def test_disconnect_and_reconnect_are_marked_in_the_log(console: SerialConsole, pty: Pty) -> None:
    pty.write(b"before, no newline")
    console.expect("no newline", timeout=ARRIVES)
    console.disconnect()
    assert not console.connected
    with pytest.raises(ConsoleTimeout, match="the console was disconnected"):
        console.expect("anything", timeout=NEVER)
    console.reconnect()
    assert console.connected
    pty.write(b"after\n")
    console.expect("after\n", timeout=ARRIVES)
    log = console.log_path.read_text()
    assert log == f"before, no newline\n{DISCONNECTED}\n{RECONNECTED}\nafter\n"


def test_a_reconnect_after_the_close_does_nothing(console: SerialConsole, pty: Pty) -> None:
    """A fault's timer may reconnect as the bench closes the console: nothing is opened or written."""
    console.disconnect()
    console.close()
    console.reconnect()
    assert not console.connected
    assert console.log_path.read_text() == f"{DISCONNECTED}\n"


def test_disconnect_over_a_socket(listener: socket.socket, tmp_path: Path) -> None:
    with SerialConsole("bcm", socket_url(listener), log_path=tmp_path / "bcm.log") as console:
        first, _ = listener.accept()
        with first:
            console.disconnect()
            first.settimeout(ARRIVES)
            assert first.recv(16) == b""  # the terminal server sees the client go away
        console.reconnect()
        second, _ = listener.accept()
        with second:
            second.sendall(b"hello again\n")
            console.expect("hello again\n", timeout=ARRIVES)
            assert console.log_path.read_text() == f"{DISCONNECTED}\n{RECONNECTED}\nhello again\n"


def test_a_lost_port_is_a_bench_fault(listener: socket.socket, tmp_path: Path) -> None:
    with SerialConsole("bcm", socket_url(listener), log_path=tmp_path / "bcm.log") as console:
        connection, _ = listener.accept()
        connection.sendall(b"last words\n")
        connection.close()
        with pytest.raises(BenchFault, match=f"serial console 'bcm' on {socket_url(listener)} was lost"):
            console.expect("never printed", timeout=ARRIVES)
        assert console.expect("last words", timeout=ARRIVES)  # what came before is kept


@pytest.mark.parametrize("url", ["/dev/no-such-console", "socket://127.0.0.1:1"])
def test_an_unopenable_port_is_a_bench_fault_naming_it(url: str, tmp_path: Path) -> None:
    with pytest.raises(BenchFault, match=f"serial console 'bms': cannot open {url}"):
        SerialConsole("bms", url, log_path=tmp_path / "bms.log")


def test_reconnect_to_a_port_that_went_away_is_a_bench_fault(listener: socket.socket, tmp_path: Path) -> None:
    url = socket_url(listener)
    with SerialConsole("bms", url, log_path=tmp_path / "bms.log") as console:
        console.disconnect()
        listener.close()  # the terminal server is gone
        with pytest.raises(BenchFault, match=f"serial console 'bms': cannot open {url}"):
            console.reconnect()


def test_close_and_disconnect_wake_a_reader_waiting_for_data(pty: Pty, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """On a pty the reader waits for data, not a poll interval: ``disconnect`` and ``close`` cancel its read."""
    monkeypatch.setattr("bench.console.READ_WAIT", 3600.0)
    console = SerialConsole("bms", pty.path, log_path=tmp_path / "bms.log")
    pty.write(b"up\n")
    console.expect("up\n", timeout=ARRIVES)
    for stop in (console.disconnect, console.reconnect, console.close):
        stopping = threading.Thread(target=stop, daemon=True)
        stopping.start()
        stopping.join(60.0)  # generous: without the cancel the reader would wait an hour
        assert not stopping.is_alive(), f"{stop.__name__} waited for the reader's read"
    assert not console.connected
