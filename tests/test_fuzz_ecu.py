"""No input kills the virtual ECU: random and mutated requests in every session (straight into
the UDS server, thousands a second), and random and mutated ISO-TP frames on the bus. After
each, the ECU answers TesterPresent and can still be flashed.

Bounded by the hypothesis profile of tests/conftest.py: a few seconds and the same examples
every run; ``OTA_FUZZ_PROFILE=nightly`` runs many more, random ones.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import can
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.dids import FINGERPRINT_LENGTH
from bench.keys import xor_key
from bench.rig import Bench
from bench.sim.isotp_server import admit, admitted
from bench.sim.nrc import SUPPRESSED_ON_FUNCTIONAL
from his_sim import APP, CAL, FINGERPRINT, HisSim, erase, program
from his_sim import location as his_location
from raw_uds import RawUdsClient
from sim_factory import LEVEL, LOCKOUT, REGION, SimEcu, h, install, location, make_profile, recipe, signed_image

DEFAULT, PROGRAMMING, EXTENDED = 0x01, 0x02, 0x03
UNLOCK = b"unlock"
"""Not a request: the fuzzer's step that unlocks security access, to reach the secured states."""
LOCATION = location(REGION, 0x1000)
TEMPLATES = [h(text) for text in (
    "10 01", "10 02", "10 03", "10 83", "11 01", "11 81", "3E 00", "3E 80", "22 F1 89", "22 F1 89 FD 02",
    "22 FD 01", "22 FD 03", "22 F1 5A", "27 11", "27 12 00 00 00 00", "28 01 01", "28 83 03", "85 02", "85 81",
    "31 01 FF 01", "31 01 02 02", "37", "36 01 00 00 00 00",
)] + [h("2E F1 5A") + bytes(FINGERPRINT_LENGTH), h("31 01 FF 00") + LOCATION, h("31 81 FF 00") + LOCATION,
      h("34 00") + LOCATION]


@st.composite
def mutated(draw: st.DrawFn, templates: list[bytes] = TEMPLATES) -> bytes:
    """A valid request of some service, then a few byte-level mutations."""
    raw = bytearray(draw(st.sampled_from(templates)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "truncate", "extend", "pad", "suppress", "insert"]))
        at = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "set" and raw:
            raw[at] = draw(st.integers(0, 0xFF))
        elif op == "truncate":
            del raw[at:]
        elif op == "extend":
            raw += draw(st.binary(min_size=1, max_size=4))
        elif op == "pad":  # long records: the sizes around the ECU's buffers and its EEPROM slot
            raw += bytes([draw(st.integers(0, 0xFF))]) * draw(st.sampled_from([255, 1900, 4100]))
        elif op == "suppress" and len(raw) > 1:
            raw[1] |= 0x80
        elif op == "insert":
            raw.insert(at, draw(st.integers(0, 0xFF)))
    return bytes(raw)


requests = st.one_of(st.binary(max_size=24), mutated(), st.sampled_from(TEMPLATES), st.just(UNLOCK))
steps = st.lists(st.tuples(requests, st.booleans()), max_size=25)  # (request, functional)


def enter(ecu: SimEcu | HisSim, session: int) -> None:
    if session != DEFAULT:
        ecu.send("10 03")
    if session == PROGRAMMING:
        ecu.send("10 02")


def try_unlock(ecu: SimEcu | HisSim) -> None:
    seed = ecu.send(bytes([0x27, LEVEL]))
    if seed is not None and seed[:2] == bytes([0x67, LEVEL]):
        ecu.send(bytes([0x27, LEVEL + 1]) + xor_key(LEVEL, seed[2:], ecu.profile.security.key_params))


def show(payload: bytes) -> str:
    return payload[:16].hex(" ") + (f" ... ({len(payload)} bytes)" if len(payload) > 16 else "")


def check_answer(request: bytes, functional: bool, response: bytes | None) -> None:
    """Well formed, and never generalReject: that is the server's answer to its own bug."""
    if response is None:
        return
    exchange = f"{show(request)} -> {show(response)}"
    if response[0] == 0x7F:
        assert len(response) == 3 and response[1] == request[0], exchange
        assert response[2] != 0x10, f"{exchange}: a bug in the server (generalReject)"
        assert not (functional and response[2] in SUPPRESSED_ON_FUNCTIONAL), f"{exchange} (functional)"
    else:
        assert request and response[0] == request[0] + 0x40, exchange


FACTORY = recipe("app-1.0.0")
UPDATE = signed_image("2.0.0")


@pytest.mark.parametrize("bootloader", ["single_bank", "ab"])
@given(session=st.sampled_from([DEFAULT, EXTENDED, PROGRAMMING]), unlocked=st.booleans(), sequence=steps)
def test_no_request_sequence_kills_the_server(bootloader: str, session: int, unlocked: bool,
                                              sequence: list[tuple[bytes, bool]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        ecu = SimEcu(Path(directory), make_profile(bootloader), factory_image=FACTORY)
        try:
            enter(ecu, session)
            if unlocked:
                try_unlock(ecu)
            for request, functional in sequence:
                if request is UNLOCK:
                    try_unlock(ecu)
                    continue
                reply = ecu.core.handle(request, functional=functional)
                check_answer(request, functional, reply.response)
                if reply.reset_after:
                    ecu.power_on()
                ecu.clock.advance(0.01)
            ecu.power_on()
            ecu.clock.advance(LOCKOUT + 1)  # wrong keys may have locked security access
            assert ecu.send("3E 00") == h("7E 00")
            assert install(ecu, UPDATE) == h("71 01 FF 01 00")
        finally:
            ecu.close()


HIS_TEMPLATES = TEMPLATES + [h(text) for text in (
    "31 01 02 03", "22 F1 95", "22 F1 80", "31 01 02 02 00 00 00 00",
)] + [h("2E F1 5A") + FINGERPRINT, erase(APP), erase(CAL), h("34 10") + his_location(CAL.address, 0x100),
      h("34 00") + his_location(APP.address, 0x1000)]
his_requests = st.one_of(st.binary(max_size=24), mutated(HIS_TEMPLATES), st.sampled_from(HIS_TEMPLATES),
                         st.just(UNLOCK))


@given(session=st.sampled_from([DEFAULT, EXTENDED, PROGRAMMING]), unlocked=st.booleans(),
       sequence=st.lists(st.tuples(his_requests, st.booleans()), max_size=25))
def test_no_request_sequence_kills_the_his_bootloader(session: int, unlocked: bool,
                                                      sequence: list[tuple[bytes, bool]]) -> None:
    """The HIS-style dialect (bench.sim.dialects.his) the same way: well-formed answers, never
    generalReject, and afterwards the whole HIS sequence still updates it."""
    with tempfile.TemporaryDirectory() as directory:
        ecu = HisSim(Path(directory))
        try:
            enter(ecu, session)
            if unlocked:
                try_unlock(ecu)
            for request, functional in sequence:
                if request is UNLOCK:
                    try_unlock(ecu)
                    continue
                reply = ecu.core.handle(request, functional=functional)
                check_answer(request, functional, reply.response)
                if reply.reset_after:
                    ecu.power_on()
                ecu.clock.advance(0.01)
            ecu.power_on()
            ecu.clock.advance(LOCKOUT + 1)
            assert ecu.send("3E 00") == h("7E 00")
            program(ecu, "2.0.0")
        finally:
            ecu.close()


# -- ISO-TP frames -----------------------------------------------------------------------------------

@st.composite
def isotp_frames(draw: st.DrawFn) -> can.Message:
    """A CAN frame to the ECU's physical or functional id: random bytes, or an ISO-TP frame of
    every type with random fields, sometimes as CAN FD."""
    pci = draw(st.sampled_from([0x00, 0x10, 0x20, 0x30, None]))
    if pci is None:
        data = draw(st.binary(min_size=0, max_size=8))
    else:
        data = bytes([pci | draw(st.integers(0, 0x0F))]) + draw(st.binary(min_size=0, max_size=7))
    if pci == 0x00 and draw(st.booleans()):
        request = draw(st.sampled_from([t for t in TEMPLATES if len(t) <= 7]))
        data = bytes([len(request)]) + request
    fd = draw(st.integers(0, 9)) == 0
    return can.Message(arbitration_id=draw(st.sampled_from([0x7E0, 0x7DF])), is_extended_id=False,
                       data=data if fd or len(data) == 8 else data.ljust(draw(st.sampled_from([len(data), 8])), b"\xaa"),
                       is_fd=fd)


@given(isotp_frames(), st.booleans(), st.booleans())
def test_admit_never_raises(msg: can.Message, functional: bool, fd_bus: bool) -> None:
    admit(msg, functional=functional, fd_bus=fd_bus)


@given(st.lists(isotp_frames(), max_size=12), st.booleans(), st.booleans(), st.sampled_from([0, 1]))
def test_a_block_is_admitted_as_frame_by_frame(msgs: list[can.Message], functional: bool, fd_bus: bool,
                                               prefix: int) -> None:
    """``admitted`` (a block of frames, consecutive frames without a call each) keeps what ``admit``
    of each frame keeps, in order, the same objects (a reserved STmin: the same fixed copy's fields)."""
    expected = [admit(msg, functional=functional, fd_bus=fd_bus, prefix=prefix) for msg in msgs]
    got = admitted(msgs, functional=functional, fd_bus=fd_bus, prefix=prefix)
    kept = [(msg.arbitration_id, bytes(msg.data), msg.is_fd) for msg in expected if msg is not None]
    assert [(msg.arbitration_id, bytes(msg.data), msg.is_fd) for msg in got] == kept
    assert [msg for msg in got if msg in msgs] == [msg for msg in expected if msg in msgs]


def answers_tester_present(client: RawUdsClient, within: float = 5.0) -> bool:
    """True once the ECU answers TesterPresent (it may first finish a transmission the fuzzer
    left waiting for flow control: up to N_Bs)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if client.answer("3E 00") == h("7E 00"):
            return True
    return False


def test_random_isotp_frames_then_the_ecu_still_answers_and_flashes(bench_config, tmp_path: Path) -> None:
    with Bench(bench_config, workdir=tmp_path, ecus=["bcm"], gateway=False) as rig:
        handle = rig.ecu("bcm")
        bus_config = rig.config.buses[handle.config.bus]
        client = RawUdsClient(handle.config, bus_config, rig.channel(handle.config.bus), handle.profile.timing)
        raw = can.Bus(interface="virtual", channel=rig.channel(handle.config.bus))
        try:
            @settings(max_examples=max(5, settings.default.max_examples // 4),
                      suppress_health_check=[HealthCheck.too_slow])
            @given(st.lists(isotp_frames(), min_size=1, max_size=12))
            def survives(frames: list[can.Message]) -> None:
                for msg in frames:
                    raw.send(msg)
                assert answers_tester_present(client), f"no TesterPresent answer after {frames}"

            survives()
        finally:
            client.close()
            raw.shutdown()
        assert handle.sim.fault is None
        result = handle.flasher.flash(recipe("app-2.0.0"))
        assert result.version_after == "2.0.0"
