"""Requests the tester repeats, as ISO 14229-1 has it: one answered busyRepeatRequest (NRC 0x21), after the
session's P2 while the ECU stays busy no longer than its P2* (past that the 0x21 stands); and a flash's
requestSeed answered 0x37 requiredTimeDelayNotExpired, while the ECU's security delay timer runs (after a
start, in many bootloaders), for at most the profile's security.lockout_delay. A scripted ECU on
udsoncan's queue connection answers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from udsoncan.connections import QueueConnection
from udsoncan.exceptions import NegativeResponseException

from bench.config.models import EcuProfile
from bench.flash.security_delay import request_seed
from bench.transport.uds_client import SessionTimedClient

PROFILE = EcuProfile(bootloader="single_bank", timing={"p2": 0.05, "p2_star": 1.0, "network_margin": 5.0},
                     security={"level": 0x05, "lockout_delay": 1.0})
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
    assert len(received) > 1  # repeated until P2* ran out, not given up at the first 0x21


def test_another_negative_response_is_not_repeated(ecu) -> None:
    client, received = ecu(lambda n: bytes.fromhex("7F 22 31"))
    with pytest.raises(NegativeResponseException):
        client.read_data_by_identifier(0xF189)
    assert len(received) == 1


SEED_REQUEST, SEED = bytes.fromhex("27 05"), bytes.fromhex("67 05 12 34 56 78")
DELAY = bytes.fromhex("7F 27 37")


def test_a_flash_waits_out_the_security_delay_timer_of_a_started_ecu(ecu) -> None:
    client, received = ecu(lambda n: DELAY if n <= 3 else SEED)
    seed, waited = request_seed(client, 0x05, up_to=PROFILE.security.lockout_delay)
    assert seed == bytes.fromhex("12 34 56 78") and waited is not None
    assert received == [SEED_REQUEST] * 4


def test_a_seed_given_at_once_waited_for_nothing(ecu) -> None:
    client, received = ecu(lambda n: SEED)
    assert request_seed(client, 0x05, up_to=PROFILE.security.lockout_delay) == (bytes.fromhex("12 34 56 78"), None)


def test_a_delay_timer_longer_than_the_profiles_lockout_delay_gets_the_0x37_through(ecu) -> None:
    client, received = ecu(lambda n: DELAY)
    with pytest.raises(NegativeResponseException) as refused:
        request_seed(client, 0x05, up_to=PROFILE.security.lockout_delay)
    assert refused.value.response.code == 0x37 and received[-1] == SEED_REQUEST
    assert len(received) > 1  # repeated until the lockout delay ran out, not given up at the first 0x37
