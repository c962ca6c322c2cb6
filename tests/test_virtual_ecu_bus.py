"""The virtual ECU as seen on the bus: status frame, response pending, S3 timeout."""

from __future__ import annotations

import time
from pathlib import Path

import can
import cantools
import pytest

from bench.dids import BootMode
from bench.rig import Bench

pytestmark = pytest.mark.ecu("bcm")


def sniff(bench: Bench, bus: str) -> can.BusABC:
    config = bench.config.buses[bus]
    return can.Bus(interface="virtual", channel=bench.channel(bus),
                   protocol=can.CanProtocol.CAN_FD if config.fd else can.CanProtocol.CAN_20)


def frames(listener: can.BusABC, arbitration_id: int, *, until, within: float = 3.0):
    """Frames with this id until ``until(frame)`` holds; fails after ``within`` seconds."""
    deadline = time.monotonic() + within
    seen = []
    while time.monotonic() < deadline:
        frame = listener.recv(timeout=0.05)
        if frame is not None and frame.arbitration_id == arbitration_id:
            seen.append(frame)
            if until(frame):
                return seen
    raise AssertionError(f"no matching frame {arbitration_id:#x} within {within} s; saw {len(seen)}")


def test_application_sends_its_dbc_status_frame(bench, ecu, firmware, bench_config):
    dbc = cantools.database.load_file(str(bench_config.dbc[0]))
    message = dbc.get_message_by_name("BCM_OtaStatus")
    listener = sniff(bench, "body")
    try:
        first = frames(listener, message.frame_id, until=lambda f: True)[-1]
        assert dbc.decode_message(message.frame_id, first.data)["SwVersionMajor"] == 1

        ecu.flasher.flash(firmware("app-2.0.0"))

        def new_version(frame: can.Message) -> bool:
            return dbc.decode_message(message.frame_id, frame.data)["SwVersionMajor"] == 2

        seen = frames(listener, message.frame_id, until=new_version)
        counters = [dbc.decode_message(message.frame_id, f.data)["AliveCounter"] for f in seen[-2:]]
        assert len(counters) < 2 or counters[1] == (counters[0] + 1) % 16
    finally:
        listener.shutdown()


@pytest.fixture
def slow_erase_bench(bench_config, tmp_path: Path):
    """The virtual bench with a flash that needs 20 ms per sector: erase outlasts P2server."""
    ecu = bench_config.ecus["bcm"]
    virtual = ecu.virtual.model_copy(update={"erase_time_per_sector": 0.02})
    config = bench_config.model_copy(update={"ecus": {"bcm": ecu.model_copy(update={"virtual": virtual})}})
    with Bench(config, workdir=tmp_path) as rig:
        yield rig


def test_long_erase_is_answered_with_response_pending(slow_erase_bench, firmware):
    ecu = slow_erase_bench.ecu("bcm")
    listener = sniff(slow_erase_bench, "body")
    try:
        result = ecu.flasher.flash(firmware("app-2.0.0"))
        pending = [f for f in iter(lambda: listener.recv(timeout=0), None)
                   if f.arbitration_id == ecu.config.response_id and bytes(f.data[:4]) == b"\x03\x7f\x31\x78"]
    finally:
        listener.shutdown()
    assert result.version_after == "2.0.0"
    assert pending, "erase took longer than P2server but no 0x78 was sent"


def test_programming_session_times_out_back_to_the_application(bench_config, tmp_path: Path):
    profile = bench_config.profiles["single-bank"]
    short = profile.model_copy(update={"timing": profile.timing.model_copy(update={"s3": 0.2})})
    config = bench_config.model_copy(update={"profiles": {**bench_config.profiles, "single-bank": short}})
    with Bench(config, workdir=tmp_path) as rig:
        ecu = rig.ecu("bcm")
        ecu.uds.change_session(3)
        ecu.uds.change_session(2)
        assert ecu.diagnostics.read_boot_status().mode == BootMode.BOOTLOADER
        deadline = time.monotonic() + 5.0
        while ecu.sim.core().session != 0x01 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ecu.diagnostics.read_boot_status().mode == BootMode.APPLICATION


def test_communication_control_silences_the_status_frame_until_default_session(bench, ecu, bench_config):
    frame_id = cantools.database.load_file(str(bench_config.dbc[0])).get_message_by_name("BCM_OtaStatus").frame_id
    listener = sniff(bench, "body")
    try:
        frames(listener, frame_id, until=lambda f: True)
        ecu.uds.change_session(3)
        ecu.uds.communication_control(0x01, 0x01)  # enableRxAndDisableTx, normal messages
        while listener.recv(timeout=0) is not None:  # drop what was sent before
            pass
        silent_until = time.monotonic() + 0.5  # five status periods
        while time.monotonic() < silent_until:
            frame = listener.recv(timeout=0.05)
            assert frame is None or frame.arbitration_id != frame_id, "status frame sent while disabled"
        ecu.uds.change_session(1)
        frames(listener, frame_id, until=lambda f: True)
    finally:
        listener.shutdown()


def test_the_tester_knows_when_the_bench_switched_the_ecu_off(ecu, power):
    """No waiting out P2 for an ECU without power; and after power returns, no answer to an
    abandoned request is mistaken for the answer to the next one."""
    from udsoncan.exceptions import TimeoutException

    ecu.uds.change_session(3)
    power.off()
    assert ecu.link.connection.unpowered.is_set()
    with pytest.raises(TimeoutException):
        ecu.uds.tester_present()
    power.on()
    assert not ecu.link.connection.unpowered.is_set()
    for _ in range(20):
        ecu.uds.tester_present()
        assert ecu.diagnostics.read_version() == "1.0.0"
