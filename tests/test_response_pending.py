"""NRC 0x78 and the final response (ISO 14229-1, 7.5): once responsePending went out, the final
response is mandatory, even for a request whose positive response was suppressed."""

from __future__ import annotations

import queue

import pytest

from bench.rig import Bench
from bench.sim.pending import ResponsePending
from bench.sim.server import Reply
from raw_uds import PROGRAMMING, Scanner
from sim_factory import REGION, SimEcu, h, location

PENDING = h("7F 31 78")
WAIT = 5.0  # generous bound for a thread to act; the test waits for events, it asserts no timing


@pytest.fixture
def sent():
    return queue.Queue()


def pending_sent(sent: queue.Queue) -> None:
    assert sent.get(timeout=WAIT) == PENDING


def test_withheld_response_is_sent_after_response_pending(sent) -> None:
    pending = ResponsePending(sent.put, first_after=0.0, every=60.0)
    try:
        pending.begin(0x31)
        pending_sent(sent)
        pending.finish(None, withheld=h("71 01 FF 00 00"))
        assert sent.get(timeout=WAIT) == h("71 01 FF 00 00")
    finally:
        pending.close()


def test_withheld_response_stays_withheld_without_response_pending(sent) -> None:
    pending = ResponsePending(sent.put, first_after=60.0, every=60.0)
    try:
        pending.begin(0x31)
        pending.finish(None, withheld=h("71 01 FF 00 00"))
        pending.begin(0x3E)
        pending.finish(h("7E 00"))
        assert sent.get(timeout=WAIT) == h("7E 00")               # the first request sent nothing
        assert sent.empty()
    finally:
        pending.close()


def test_server_withholds_the_suppressed_positive_response(single_bank: SimEcu) -> None:
    single_bank.enter_programming()
    reply = single_bank.core.handle(h("31 81 FF 00") + location(REGION, 0x1000))
    assert reply.response is None
    assert reply.withheld == h("71 01 FF 00 00")


def test_server_withholds_a_negative_response_suppressed_on_functional_addressing(single_bank: SimEcu) -> None:
    reply = single_bank.core.handle(h("22 12 34"), functional=True)
    assert reply == Reply(None, withheld=h("7F 22 31"))


@pytest.fixture
def slow_erase(bench_config, tmp_path):
    """bcm with a flash that needs 20 ms per sector: an erase of 64 sectors outlasts P2server."""
    ecu = bench_config.ecus["bcm"]
    virtual = ecu.virtual.model_copy(update={"erase_time_per_sector": 0.02})
    config = bench_config.model_copy(update={"ecus": {"bcm": ecu.model_copy(update={"virtual": virtual})}})
    with Bench(config, workdir=tmp_path, ecus=["bcm"], gateway=False) as rig:
        scan = Scanner(rig, "bcm")
        yield scan
        scan.client.close()


def test_suppressed_erase_sends_its_final_response_after_response_pending(slow_erase) -> None:
    slow_erase.enter(PROGRAMMING)
    slow_erase.unlock()
    exchange = slow_erase.client.request(h("31 81 FF 00") + location(0x0008_0000, 0x4_0000))
    assert exchange.pending and set(exchange.pending) == {PENDING}
    assert exchange.final == h("71 01 FF 00 00")
    assert slow_erase.client.request("3E 80", silent=True).final is None    # short: the suppress bit holds


def test_a_long_request_after_a_short_one_gets_its_response_pending(sent) -> None:
    """The watcher is still waiting for the short request's first 0x78 when the long one begins:
    it is not woken for it, and must still send the long one's 0x78 when that is due."""
    pending = ResponsePending(sent.put, first_after=0.05, every=60.0)
    try:
        pending.begin(0x36)
        assert pending.finish(h("76 01")) == h("76 01")
        answer = sent.get(timeout=WAIT)
        while answer == h("7F 36 78"):  # a slow host let 50 ms pass: its 0x78 went first, which is right
            answer = sent.get(timeout=WAIT)
        assert answer == h("76 01")
        pending.begin(0x31)
        pending_sent(sent)
        pending.finish(None, withheld=h("71 01 FF 00 00"))
        assert sent.get(timeout=WAIT) == h("71 01 FF 00 00")
        pending.begin(0x31)  # after an idle spell: the watcher waits to be told, and is
        pending_sent(sent)
        pending.finish(h("71 01 FF 00 00"))
    finally:
        pending.close()
