"""ISO 14229-1 busyRepeatRequest (NRC 0x21): a server temporarily too busy asks the client to repeat the
identical request. The tester repeats it (after the session's P2) while the ECU stays busy no longer than
its P2*; past that the 0x21 stands. A scripted ECU on udsoncan's queue connection answers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from udsoncan.connections import QueueConnection
from udsoncan.exceptions import NegativeResponseException

from bench.config.models import EcuProfile
from bench.transport.uds_client import SessionTimedClient

PROFILE = EcuProfile(bootloader="single_bank", timing={"p2": 0.05, "p2_star": 1.0, "network_margin": 5.0})
VERSION = bytes.fromhex("62 F1 89") + b"2.1.0"
BUSY = bytes.fromhex("7F 22 21")


@pytest.fixture
def ecu() -> Iterator[Callable[[Callable[[int], bytes]], tuple[SessionTimedClient, list[bytes]]]]:
    """A client whose ECU answers its Nth request (from 1) with ``answer(n)``; the requests it got."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(answer: Callable[[int], bytes]) -> tuple[SessionTimedClient, list[bytes]]:
        conn = QueueConnection()
        received: list[bytes] = []

        def serve() -> None:
            while not stop.is_set():
                if conn.touserqueue.empty():
                    stop.wait(0.005)
                    continue
                received.append(conn.touserqueue.get())
                conn.fromuserqueue.put(answer(len(received)))

        threads.append(threading.Thread(target=serve, daemon=True))
        threads[-1].start()
        client = SessionTimedClient(conn, PROFILE)
        client.open()
        return client, received

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=10)


def test_the_tester_repeats_the_identical_request_while_the_ecu_is_busy(ecu) -> None:
    client, received = ecu(lambda n: BUSY if n <= 2 else VERSION)
    assert client.read_data_by_identifier(0xF189).service_data.values[0xF189] == b"2.1.0"
    assert received == [bytes.fromhex("22 F1 89")] * 3


def test_an_ecu_busy_longer_than_its_p2_star_gets_the_0x21_through(ecu) -> None:
    client, received = ecu(lambda n: BUSY)
    with pytest.raises(NegativeResponseException) as refused:
        client.read_data_by_identifier(0xF189)
    assert refused.value.response.code == 0x21 and received[-1] == bytes.fromhex("22 F1 89")


def test_another_negative_response_is_not_repeated(ecu) -> None:
    client, received = ecu(lambda n: bytes.fromhex("7F 22 31"))
    with pytest.raises(NegativeResponseException):
        client.read_data_by_identifier(0xF189)
    assert len(received) == 1
