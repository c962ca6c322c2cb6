"""The bench's can-isotp stacks: addressed wake-ups, repeated resets that really reset, an idle
main thread that sleeps until something gives it work."""

from __future__ import annotations

import threading
import uuid

import can
import pytest

from bench.config.models import BusConfig, EcuConfig
from bench.transport.can_bus import open_bus
from bench.transport import isotp_link
from bench.transport.isotp_link import address, make_stack

BUS = BusConfig(interface="virtual", channel="unused")
ECU = EcuConfig(bus="body", request_id=0x7E0, response_id=0x7E8, profile="any")


@pytest.fixture
def pair():  # noqa: ANN201 - (tester stack, ECU stack), started on a fresh channel
    channel = f"isotp-{uuid.uuid4().hex[:8]}"
    buses = [open_bus("body", BUS, channel=channel) for _ in range(2)]
    notifiers = [can.Notifier(bus, [], timeout=0.01) for bus in buses]
    tester = make_stack(buses[0], notifiers[0], address(ECU, server=False), BUS, max_frame_size=4095)
    ecu = make_stack(buses[1], notifiers[1], address(ECU, server=True), BUS, max_frame_size=4095)
    tester.start()
    ecu.start()
    yield tester, ecu
    for stack in (tester, ecu):
        stack.stop()
    for notifier, bus in zip(notifiers, buses, strict=True):
        notifier.stop()
        bus.shutdown()


@pytest.mark.parametrize("resets", [1, 2, 5])
def test_stop_sending_again_and_again_never_cancels_the_next_message(pair, resets: int) -> None:
    tester, ecu = pair
    for round_ in range(3):  # what udsoncan does before each retry: stop sending, stop receiving
        for _ in range(resets):
            tester.stop_sending()
            tester.stop_receiving()
        payload = bytes([round_]) * 300  # multi-frame: first frame, flow control, consecutive frames
        tester.send(payload)
        assert ecu.recv(block=True, timeout=2.0) == payload


def test_an_idle_stack_sleeps_until_a_frame_a_send_or_a_reset_wakes_it(pair, monkeypatch) -> None:
    tester, ecu = pair
    monkeypatch.setattr(isotp_link, "IDLE_WAIT", 30.0)  # nothing but a wake-up could end the wait
    reads = []
    read = ecu._read_relay_queue  # noqa: SLF001 - the main thread's read, counted

    def counted(timeout: float | None) -> object:
        reads.append(timeout)
        return read(timeout)

    ecu._set_rxfn(counted)  # noqa: SLF001 - can-isotp's way to swap the main thread's read
    tester.send(b"\x10\x02")  # one read that returns the frame wakes the stack once...
    assert ecu.recv(block=True, timeout=2.0) == b"\x10\x02"
    threading.Event().wait(0.6)
    assert len(reads) <= 2, reads  # ...then it sleeps: no read every read_timeout (0.01 s here: some 60 reads)

    payload = bytes(300)  # multi-frame, flow control from the sleeping tester
    ecu.send(payload)
    assert tester.recv(block=True, timeout=2.0) == payload

    ecu.stop_sending()  # sets reset_tx only: it must wake the sleeping thread to be done
    assert ecu.events.reset_tx_complete.is_set()
    ecu.stop_receiving()
    assert ecu.events.reset_rx_complete.is_set()
    tester.send(b"\x3e\x00")
    assert ecu.recv(block=True, timeout=2.0) == b"\x3e\x00"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the reader threads die: expected
def test_a_tester_whose_adapter_goes_away_gets_a_bench_fault_not_a_hang(tmp_path) -> None:
    from pathlib import Path

    from bench.config import load_bench
    from bench.errors import BenchFault
    from bench.rig import Bench

    config = load_bench(Path(__file__).resolve().parents[1] / "fixtures" / "benches" / "virtual.yaml")
    with Bench(config, workdir=tmp_path, ecus=["bcm"], gateway=False) as rig:
        diagnostics = rig.ecu("bcm").diagnostics
        assert diagnostics.read_version() == "1.0.0"
        bus, _ = rig._buses["body"]  # noqa: SLF001 - the tester's adapter, unplugged
        bus.shutdown()
        with pytest.raises(BenchFault, match="ISO-TP stack has stopped"):
            diagnostics.read_version()
