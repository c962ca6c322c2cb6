"""Host overload: a virtual ECU tells an answer the host made late (a bench fault) from one its model meant to
give late (the ECU's fault), and a scenario failing meanwhile ends as ``HostOverloaded``."""

from __future__ import annotations

import time
from pathlib import Path

import isotp
import pytest

from bench.config import load_bench
from bench.errors import HostOverloaded
from bench.image.builders import firmware_builder
from bench.scenarios.catalog import load_catalog
from bench.scenarios.runner import play
from bench.sim import ecu as sim_ecu
from bench.sim.answer_timing import AnswerClock, LateAnswer

REPO = Path(__file__).resolve().parents[1]
PENDING = bytes([0x7F, 0x31, 0x78])


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def give(answers: AnswerClock, payload: bytes) -> None:
    """The model hands ``payload`` over and its first frame goes on the bus at once."""
    answers.handed(payload)
    answers.answered()


def answer_clock() -> tuple[AnswerClock, FakeClock, list[LateAnswer]]:
    clock, late = FakeClock(), []
    answers = AnswerClock("bms", first_within=0.0125, pending_every=1.0, deadline=0.2, deadline_after_pending=2.15,
                          late=late.append, clock=clock)
    return answers, clock, late


def test_an_answer_after_the_deadline_that_the_model_meant_in_time_is_the_hosts() -> None:
    answers, clock, late = answer_clock()
    answers.request(0x37, received_at=100.0)
    clock.now = 100.35
    give(answers, b"\x77")
    assert len(late) == 1
    assert (late[0].service, late[0].pending) == (0x37, False)
    assert late[0].waited == pytest.approx(0.35) and late[0].meant == pytest.approx(0.0125)
    assert "RequestTransferExit" in late[0].describe() and "did not get the CPU" in late[0].describe()


def test_answers_in_time_and_answers_the_model_delays_on_purpose_are_not() -> None:
    answers, clock, late = answer_clock()
    answers.request(0x22, received_at=100.0)
    clock.now = 100.19
    give(answers, b"\x62\xf1\x95")
    answers.request(0x37, received_at=100.2)
    answers.intend(0.3)  # a mutant answering after P2: the ECU's defect, for the tester to find
    clock.now = 100.55
    give(answers, b"\x77")
    clock.now = 101.0
    give(answers, b"\x50\x02")  # no request open: nothing to judge
    assert late == []


def test_a_request_that_came_while_the_model_delayed_another_on_purpose_waits_its_turn() -> None:
    answers, clock, late = answer_clock()
    answers.request(0x37, received_at=100.0)
    answers.intend(0.3)
    clock.now = 100.3
    give(answers, b"\x77")
    answers.request(0x3E, received_at=100.21)  # a TesterPresent sent after the tester's timeout
    clock.now = 100.31
    give(answers, b"\x7e\x00")
    assert late == []


def test_an_answer_is_judged_when_it_goes_on_the_bus_even_after_the_next_request_came() -> None:
    answers, clock, late = answer_clock()
    answers.request(0x37, received_at=100.0)
    clock.now = 100.01
    answers.handed(b"\x77")  # in time for the model; the ECU's ISO-TP thread then waits for the CPU
    answers.request(0x22, received_at=100.3)
    clock.now = 100.35
    answers.answered()
    assert [(a.service, round(a.waited, 2)) for a in late] == [(0x37, 0.35)]


def test_after_a_response_pending_the_next_answer_is_judged_against_p2_star() -> None:
    answers, clock, late = answer_clock()
    answers.request(0x31, received_at=100.0)
    clock.now = 100.0125
    give(answers, PENDING)
    clock.now = 101.5  # 1.49 s after the 0x78: within P2* + ΔP2
    give(answers, PENDING)
    clock.now = 104.0  # 2.5 s after the previous 0x78, meant after 1 s
    give(answers, b"\x71\x01\xff\x00")
    assert [(a.pending, round(a.waited, 2), a.deadline) for a in late] == [(False, 2.5, 2.15)]


def test_a_scenario_failing_because_the_simulator_was_starved_is_a_bench_fault(monkeypatch, tmp_path) -> None:
    """The ECU thread stalls 0.3 s between taking RequestTransferExit and handling it, as a thread
    the host gave no CPU would: the tester's P2 expires, and the verdict is the host's."""
    take = sim_ecu._PoweredRun._next_request

    def stalled(self):  # noqa: ANN001, ANN202
        request = take(self)
        if request is not None and request[0][:1] == b"\x37":
            time.sleep(0.3)
        return request

    monkeypatch.setattr(sim_ecu._PoweredRun, "_next_request", stalled)
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    kinds = {name: config.profiles[ecu.profile].bootloader for name, ecu in config.ecus.items()}
    scenario = next(s for s in load_catalog(REPO / "testcases" / "scenarios" / "power-loss.yaml", ecus=kinds)
                    if s.id == "bms-full-power_cut@block:2")
    with pytest.raises(HostOverloaded, match="RequestTransferExit .* did not get the CPU"):
        play(config, scenario, firmware_builder(REPO), workdir=tmp_path)


def test_the_gateway_counts_frames_it_takes_late_and_not_those_in_time() -> None:
    import can

    from bench.gateway import Gateway
    from bench.transport.virtual_bus import BenchVirtualBus

    tester, ecu = BenchVirtualBus("lag-tester"), BenchVirtualBus("lag-ecu")
    gateway = Gateway(tester, ecu, name="lag")
    gateway.start()
    try:
        for age in (0.5, 0.0):  # queued for the forwarding thread, one of them half a second ago
            tester.queue_for_recv(can.Message(timestamp=time.time() - age, arbitration_id=0x7E0, data=b"\x01",
                                              is_extended_id=False))
        deadline = time.monotonic() + 5
        while gateway.counters()["to_ecu"]["forwarded"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        late = gateway.lags["to_ecu"]
        assert late.late == 1 and late.worst >= 0.5
        assert gateway.late_hops() == [
            f"CAN lag, tester->ECU: 1 frame(s) passed on more than 100 ms after they arrived, the latest "
            f"{late.worst * 1000:.0f} ms: its thread did not get the CPU"]
    finally:
        gateway.stop()
        tester.shutdown()
        ecu.shutdown()


def test_the_bench_reports_frames_its_gateway_took_late(tmp_path) -> None:
    """A frame of an id no ECU listens to, queued for the gateway's thread as if sent half a second ago."""
    import can

    from bench.rig import Bench

    with Bench(load_bench(REPO / "fixtures" / "benches" / "virtual.yaml"), workdir=tmp_path, ecus=["bcm"]) as rig:
        gateway = rig.gateways["body"]
        gateway.tester_bus.queue_for_recv(can.Message(timestamp=time.time() - 0.5, arbitration_id=0x123,
                                                      data=b"\x01", is_extended_id=False))
        late = gateway.lags["to_ecu"]
        deadline = time.monotonic() + 30
        while late.late == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [text for text in rig.host_overload() if "tester->ECU" in text] == [  # the tester sent nothing else
            f"CAN gateway-body, tester->ECU: 1 frame(s) passed on more than 100 ms after they arrived, the latest "
            f"{late.worst * 1000:.0f} ms: its thread did not get the CPU"]


class StarvedTesterStack(isotp.TransportLayer):
    """A tester ISO-TP stack whose thread never hands over the answer that reached it."""

    def __init__(self, frame_after: float | None) -> None:  # no threads: nothing of can-isotp's runs
        self.main_thread = None
        self._frame_after = frame_after
        self._start = time.monotonic()

    @property
    def last_message_at(self) -> float:
        if self._frame_after is None or time.monotonic() < self._start + self._frame_after:
            return 0.0
        return self._start + self._frame_after

    def sending(self) -> bool:  # the request is on the bus (bench.transport.isotp_link.AddressedStack)
        return False

    def recv(self, block: bool, timeout: float) -> None:
        time.sleep(timeout)


@pytest.mark.parametrize(("frame_after", "missed"), [(0.03, 1), (None, 0)])
def test_a_tester_timeout_with_the_answer_already_at_its_stack_is_the_hosts(frame_after, missed) -> None:
    from udsoncan.exceptions import TimeoutException

    from bench.transport.uds_client import BenchAwareConnection

    connection = BenchAwareConnection(StarvedTesterStack(frame_after))
    connection.opened = True
    connection.request_sent()
    with pytest.raises(TimeoutException):
        connection.specific_wait_frame(timeout=0.1)
    assert len(connection.missed_answers) == missed
    assert all("did not get the CPU" in text for text in connection.missed_answers)


def test_a_functional_request_that_came_first_is_served_first_though_its_stack_is_late(tmp_path) -> None:
    """The ECU's functional stack thread has not delivered ``10 83`` (extended session, no
    answer) when the physical ``10 02`` arrives: the ECU still serves them in that order, so the
    programming session opens instead of a false 0x7E (not supported in the active session)."""
    from bench.rig import Bench

    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    with Bench(config, workdir=tmp_path, ecus=["bcm"], gateway=False) as rig:
        ecu = rig.ecu("bcm")
        ecu.link  # noqa: B018 - opens the tester's stacks
        run = ecu.sim._run
        take = run._functional.recv
        run._functional.recv = lambda block=False, timeout=None: take(block, timeout) if block else None
        ecu.link.functional_request(bytes([0x10, 0x83]), answer_within=0.0)
        response = ecu.uds.change_session(2)
        assert response.positive


def test_a_functional_request_is_on_the_bus_before_the_tester_goes_on(tmp_path) -> None:
    """The tester's functional stack thread puts ``10 83`` on the bus late (a loaded host): the
    tester sends its next, physical request only after it, so the ECU sees them in the order the
    tester meant (else ``10 02`` overtakes it and draws 0x7E, not supported in the default session)."""
    from bench.rig import Bench

    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    with Bench(config, workdir=tmp_path, ecus=["bcm"], gateway=False) as rig:
        link = rig.ecu("bcm").link
        stack = link._functional
        transmit = stack.txfn  # can-isotp's frame sender (tests/test_library_internals.py)

        def late(frame: isotp.CanMessage) -> None:
            time.sleep(0.3)
            transmit(frame)

        stack.txfn = late
        link.functional_request(bytes([0x10, 0x83]), answer_within=0.0)
        assert rig.ecu("bcm").uds.change_session(2).positive


def test_a_suppressed_functional_request_answered_after_a_response_pending_is_no_ecu_failure(
        monkeypatch, tmp_path) -> None:
    """A virtual ECU slowed past half its P2server (a loaded host) sends 0x78 to ``10 83`` and
    then, as ISO 14229-1 requires after a 0x78, the positive response the suppress bit withheld:
    the tester takes that as the answer it is, and the update goes on."""
    from bench.rig import Bench
    from bench.sim.server import EcuCore

    handle = EcuCore.handle

    def slow_session_control(self, payload, *, functional):  # noqa: ANN001, ANN202
        if payload[:2] == b"\x10\x83":
            time.sleep(0.05)
        return handle(self, payload, functional=functional)

    monkeypatch.setattr(EcuCore, "handle", slow_session_control)
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    with Bench(config, workdir=tmp_path, ecus=["bms"], gateway=False) as rig:
        result = rig.ecu("bms").flasher.flash(firmware_builder(REPO)("app-2.0.0"))
    assert result.version_after == "2.0.0"
