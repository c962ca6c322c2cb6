"""Host overload over DoIP: a message the relay or the DoIP entity held because its thread did not get
the CPU makes a failure meanwhile ``HostOverloaded``; a TCP fault's own holding does not count, and an
ECU that answers late by itself is still the ECU's finding."""

from __future__ import annotations

import contextlib
import re
import textwrap
import threading
import time
from pathlib import Path

import pytest
from udsoncan.exceptions import TimeoutException

from bench.config import load_bench
from bench.doip.gateway import DoipGateway
from bench.doip.header import DIAGNOSTIC_MESSAGE, HEADER
from bench.errors import HostOverloaded
from bench.ethernet import relay as relay_module
from bench.ethernet.direction import Direction
from bench.rig import Bench
from bench.image.builders import firmware_builder
from bench.scenarios.catalog import Scenario, load_catalog
from bench.scenarios.oracles import OutcomeViolation
from bench.scenarios.runner import play
from bench.transport import doip_link
from bench.transport.doip_link import DoipSession
from bench.transport.hop_lag import HopLag
from tests.test_catalog_mutants import with_mutant

REPO = Path(__file__).resolve().parents[1]
ECUS = {"bcm": "single_bank", "bms": "ab"}
HOLD_AT_MOST = 60.0
"""Seconds a starved hop waits at most for the tester to give up on it (a bound, never reached)."""


def released_when_the_tester_gives_up(monkeypatch: pytest.MonkeyPatch) -> threading.Semaphore:
    """Released each time the tester gives up waiting for the entity's acknowledgement (A_PROCESSING_TIME)."""
    gave_up = threading.Semaphore(0)
    await_ack = DoipSession._await_ack

    def counted(self, target, payload):  # noqa: ANN001, ANN202
        try:
            return await_ack(self, target, payload)
        except TimeoutException as timeout:
            if "did not acknowledge" in str(timeout):
                gave_up.release()
            raise

    monkeypatch.setattr(DoipSession, "_await_ack", counted)
    return gave_up


def scenario(tmp_path: Path, ecu: str, fault: str, at: str) -> Scenario:
    path = tmp_path / "demo.yaml"
    path.write_text("campaign: demo\ndefaults: {to: app-2.0.0}\n" + textwrap.dedent(f"""\
        matrix: {{ecu: {ecu}, fault: {fault}, at: "{at}", transport: doip}}
        """))
    (found,) = load_catalog(path, ecus=ECUS)
    return found


def starve_relay(monkeypatch: pytest.MonkeyPatch, direction: Direction, service: int) -> None:
    """The relay's thread of ``direction`` gets no CPU, once the message of ``service`` (or its positive
    answer) is in, until the tester has given up waiting for an acknowledgement: the update fails."""
    forward, gave_up = relay_module._Connection._forward, released_when_the_tester_gives_up(monkeypatch)

    def starved(self, way, message, arrived):  # noqa: ANN001, ANN202
        data = message[HEADER.size + relay_module.DIAGNOSTIC_ADDRESSES:]
        if way is direction and data[:1] in (bytes([service]), bytes([service + 0x40])):
            gave_up.acquire(timeout=HOLD_AT_MOST)
        return forward(self, way, message, arrived)

    monkeypatch.setattr(relay_module._Connection, "_forward", starved)


def starve_entity(monkeypatch: pytest.MonkeyPatch, service: int) -> None:
    """The DoIP entity's socket thread gets no CPU, once a request of ``service`` is in, until the
    tester has given up waiting for its acknowledgement."""
    handle, gave_up = DoipGateway._handle, released_when_the_tester_gives_up(monkeypatch)

    def starved(self, connection, payload_type, payload, ready):  # noqa: ANN001, ANN202
        if payload_type == DIAGNOSTIC_MESSAGE and payload[4:5] == bytes([service]):
            gave_up.acquire(timeout=HOLD_AT_MOST)
        return handle(self, connection, payload_type, payload, ready)

    monkeypatch.setattr(DoipGateway, "_handle", starved)


@pytest.mark.parametrize(("starve", "hop"), [
    (lambda mp: starve_relay(mp, Direction.TO_ENTITY, 0x37), "DoIP relay to scenario-gateway, tester->entity"),
    (lambda mp: starve_relay(mp, Direction.TO_TESTER, 0x37), "DoIP relay to scenario-gateway, entity->tester"),
    (lambda mp: starve_entity(mp, 0x37), "DoIP entity scenario-gateway, tester->ECU"),
], ids=["relay-to-entity", "relay-to-tester", "entity"])
def test_a_doip_hop_starved_past_p2_makes_the_failure_the_hosts(monkeypatch, tmp_path, starve, hop) -> None:
    starve(monkeypatch)
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    with pytest.raises(HostOverloaded) as verdict:
        play(config, scenario(tmp_path, "bms", "power_cut", "block:2"), firmware_builder(REPO),
             workdir=tmp_path / "run")
    # the messages queued behind the starved one are late too; or the failure came while it was held
    late = r"\d+ message\(s\) passed on more than 100 ms after they arrived|a message in hand for"
    assert re.search(rf"{hop}: ({late})", str(verdict.value))


@pytest.mark.parametrize("fault", ["tcp_stall", "tcp_delay"])
def test_what_a_tcp_fault_holds_on_purpose_is_not_host_load(monkeypatch, tmp_path, fault) -> None:
    """A stall of 1 s and +50 ms on every message for 0.5 s hold messages far past the bound: not counted."""
    seen: list[list[str]] = []
    close = Bench.close

    def closing(self):  # noqa: ANN001, ANN202
        seen.append(self.host_overload())
        return close(self)

    monkeypatch.setattr(Bench, "close", closing)
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    outcome = play(config, scenario(tmp_path, "bms", fault, "block:3"), firmware_builder(REPO),
                   workdir=tmp_path / "run")
    assert outcome.attempts[-1].failure is None
    assert len(seen) == 1 and not [line for line in seen[0] if line.startswith("DoIP relay")], seen  # the load of
    # a busy CI host may still show on other hops: only the relay's deliberate holds are this test's


def test_an_ecu_answering_after_p2_over_doip_is_still_the_ecus_finding(tmp_path) -> None:
    """The mutant answers 10 02 300 ms late by design: no DoIP hop counts that wait as the host's."""
    config = with_mutant(load_bench(REPO / "fixtures" / "benches" / "virtual.yaml"), "bcm",
                         "late_programming_session")
    with pytest.raises(OutcomeViolation, match="DiagnosticSessionControl programming failed: .*P2 timeout"):
        play(config, scenario(tmp_path, "bcm", "power_cut", "block:3"), firmware_builder(REPO),
             workdir=tmp_path / "run")


def test_a_hop_counts_only_messages_it_held_past_the_bound() -> None:
    lag = HopLag("hop")
    lag.note(0.02)
    assert lag.describe() is None
    lag.note(0.3)
    lag.note(0.15)
    assert lag.describe() == ("hop: 2 message(s) passed on more than 100 ms after they arrived, the latest 300 ms: "
                              "its thread did not get the CPU")


def test_a_tester_timeout_with_the_answer_already_at_its_socket_is_the_hosts(monkeypatch, tmp_path) -> None:
    """The tester's thread gets no CPU for 0.5 s once it waits for the answer to TesterPresent: P2
    expires with the answer in the socket, which the link reports as missed."""
    receive, starving = DoipSession.receive, []

    def starved(self, source, timeout):  # noqa: ANN001, ANN202
        if starving and starving.pop():
            time.sleep(0.5)
            return None
        return receive(self, source, timeout)

    monkeypatch.setattr(DoipSession, "receive", starved)
    with Bench(load_bench(REPO / "fixtures" / "benches" / "doip.yaml"), workdir=tmp_path, ecus=["bms"]) as rig:
        link = rig.ecu("bms").link
        assert link.client.tester_present().positive and link.connection.missed_answers == []
        starving.append(True)
        with pytest.raises(TimeoutException):
            link.client.tester_present()
        (missed,) = link.connection.missed_answers
        assert "the tester's threads did not get the CPU" in missed
        assert rig.host_overload() == [f"ECU bms: {missed}"]


def test_an_acknowledgement_at_the_socket_the_tester_took_too_late_is_the_hosts(monkeypatch, tmp_path) -> None:
    """The tester's thread gets no CPU past its wait for the entity's acknowledgement (shortened to
    0.3 s here), which has reached its socket meanwhile: the host's, reported with the entity."""

    read, starving = doip_link.DoipSession._read, []

    def starved(self, timeout):  # noqa: ANN001, ANN202
        if starving and starving.pop():
            time.sleep(0.5)
            return False
        return read(self, timeout)

    monkeypatch.setattr(doip_link.DoipSession, "_read", starved)
    monkeypatch.setattr(doip_link, "A_PROCESSING_TIME", 0.3)
    with Bench(load_bench(REPO / "fixtures" / "benches" / "doip.yaml"), workdir=tmp_path, ecus=["bms"]) as rig:
        link = rig.ecu("bms").link
        assert link.client.tester_present().positive and rig.host_overload() == []
        starving.append(True)
        with pytest.raises(TimeoutException, match="did not acknowledge"):
            link.client.tester_present()
        (overload,) = rig.host_overload()
        assert overload.startswith("tester's connection to central-gateway: the entity's acknowledgement")
        assert "did not get the CPU to take it within 300 ms" in overload


def test_an_answer_the_entitys_can_route_took_late_is_counted(tmp_path) -> None:
    """The route's reader gets no CPU for 0.3 s once the ECU's answer is complete on CAN."""

    with Bench(load_bench(REPO / "fixtures" / "benches" / "doip.yaml"), workdir=tmp_path, ecus=["bms"]) as rig:
        (route,) = rig.doip_gateways["central-gateway"].routes.values()
        stack = route._physical
        take, reading = stack.recv, threading.Event()

        def starved(block=False, timeout=None):  # noqa: ANN001, ANN202
            reading.set()
            answer = take(block, timeout)
            if answer is not None:
                time.sleep(0.3)
            return answer

        stack.recv = starved
        assert reading.wait(30), "the route's reader never came back for a message"
        with contextlib.suppress(TimeoutException):  # P2 may expire meanwhile: the point is what is counted
            rig.ecu("bms").link.client.tester_present()
        deadline = time.monotonic() + 30
        while route.lag.late == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [text for text in rig.host_overload() if "route to bms" in text] == [
            f"DoIP entity central-gateway, route to bms, ECU->tester: 1 message(s) passed on more than 100 ms after "
            f"they arrived, the latest {route.lag.worst * 1000:.0f} ms: its thread did not get the CPU"]


def test_a_message_one_connection_holds_stays_seen_when_another_connection_passes_its_own() -> None:
    """Each thread of a hop (a TCP connection, a direction) holds its own message: one passing its
    message on never clears another's, which may be the one the host starves."""
    from bench.transport.hop_lag import LATE_HOP, HopLag

    lag = HopLag("DoIP entity gw")
    held = threading.Event()
    passed = threading.Event()

    def starved_connection() -> None:
        lag.holding = time.time() - 10 * LATE_HOP  # in hand for a while already
        held.set()
        passed.wait(60)

    thread = threading.Thread(target=starved_connection)
    thread.start()
    try:
        assert held.wait(60)
        lag.holding = time.time()  # this connection takes a message
        lag.holding = None  # and passes it on
        assert lag.holding is None
        described = lag.describe()
        assert described is not None and "in hand for" in described
    finally:
        passed.set()
        thread.join(60)
