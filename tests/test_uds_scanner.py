"""An independent UDS scanner against every virtual ECU of the default bench: sessions, all 256
service identifiers in each session, DIDs and routines, the suppress bit, functional
addressing and S3, each answer checked against ISO 14229-1 — with raw bytes over can-isotp
(``raw_uds``), not with the udsoncan client the bench flashes with.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.config.models import BenchConfig
from bench.rig import Bench
from raw_uds import DEFAULT, EXTENDED, PROGRAMMING, Scanner

BENCH_ECUS = ["bcm", "bms"]
SUPPORTED = {0x10, 0x11, 0x22, 0x27, 0x28, 0x2E, 0x31, 0x34, 0x36, 0x37, 0x3E, 0x85}
"""The services the virtual ECUs implement (README, *What the virtual ECU models*)."""
SUPPRESSED_ON_FUNCTIONAL = {0x11, 0x12, 0x31, 0x7E, 0x7F}
DID_RANGES = [range(0xF100, 0xF200), range(0xFD00, 0xFE00)]
ROUTINE_RANGES = [range(0x0200, 0x0300), range(0xFF00, 0x10000)]


def negative(answer: bytes | None, sid: int) -> int | None:
    """The NRC of a well-formed negative response to ``sid`` (None for a positive one)."""
    assert answer is not None, f"no answer to SID {sid:#04x}"
    if answer[0] == 0x7F:
        assert len(answer) == 3 and answer[1] == sid, f"malformed negative response {answer.hex(' ')}"
        assert answer[2] != 0x78
        return answer[2]
    assert answer[0] == sid + 0x40, f"positive response {answer.hex(' ')} to SID {sid:#04x}"
    return None


@pytest.fixture(params=BENCH_ECUS)
def scanner(request, bench_config: BenchConfig, tmp_path: Path):
    with Bench(bench_config, workdir=tmp_path, ecus=[request.param], gateway=False) as rig:
        scan = Scanner(rig, request.param)
        yield scan
        scan.client.close()


def test_sessions(scanner: Scanner) -> None:
    reachable = set()
    for sub in range(0x01, 0x80):
        answer = scanner.client.answer(bytes([0x10, sub]))
        nrc = negative(answer, 0x10)
        if nrc is None:
            assert answer[1] == sub and len(answer) == 6, answer.hex(" ")  # P2 and P2* follow
            reachable.add(sub)
            assert scanner.client.answer("10 01")[:2] == b"\x50\x01"
        else:
            assert nrc in (0x12, 0x7E), f"10 {sub:02X} -> {answer.hex(' ')}"
    assert reachable == {DEFAULT, EXTENDED}                   # the application enters programming from extended
    scanner.enter(PROGRAMMING)


@pytest.mark.parametrize("session", [DEFAULT, EXTENDED, PROGRAMMING])
def test_every_service_identifier(scanner: Scanner, session: int) -> None:
    scanner.enter(session)
    answers = {sid: scanner.client.answer(bytes([sid])) for sid in range(0x100)}
    for sid, answer in answers.items():
        nrc = negative(answer, sid)
        if sid not in SUPPORTED:
            assert nrc == 0x11, f"session {session:#04x}: unsupported SID {sid:#04x} -> {answer.hex(' ')}"
        else:
            assert nrc not in (None, 0x11), f"session {session:#04x}: SID {sid:#04x} alone -> {answer.hex(' ')}"
    in_session = {sid for sid, answer in answers.items() if sid in SUPPORTED and answer[2] != 0x7F}
    expected = {DEFAULT: {0x10, 0x11, 0x22, 0x3E},
                EXTENDED: SUPPORTED - {0x34, 0x36, 0x37},
                PROGRAMMING: SUPPORTED}[session]
    assert in_session == expected


def test_data_identifiers(scanner: Scanner) -> None:
    dids = scanner.profile.dids
    declared = {dids.version, dids.fingerprint, dids.journal, dids.boot_state, dids.image_digest,
                *dids.identification.values()}
    found = set()
    for did in (did for span in DID_RANGES for did in span):
        answer = scanner.client.answer(bytes([0x22]) + did.to_bytes(2, "big"))
        nrc = negative(answer, 0x22)
        if nrc is None:
            assert answer[1:3] == did.to_bytes(2, "big") and len(answer) > 3, answer.hex(" ")
            found.add(did)
        else:
            assert nrc == 0x31, f"22 {did:04X} -> {answer.hex(' ')}"
    assert found == {did for did in declared if any(did in span for span in DID_RANGES)}


def test_routines(scanner: Scanner) -> None:
    routines = scanner.profile.routines
    declared = {routines.erase, routines.check_memory, routines.check_dependencies}
    # the update committed (both), or an A/B bootloader's fallback bank switched back to, in either session
    bank = {routines.commit_bank} | ({routines.switch_bank} if scanner.profile.bootloader == "ab" else set())
    for session in (EXTENDED, PROGRAMMING):
        scanner.enter(session)
        found = set()
        for rid in (rid for span in ROUTINE_RANGES for rid in span):
            answer = scanner.client.answer(bytes([0x31, 0x01]) + rid.to_bytes(2, "big"))
            nrc = negative(answer, 0x31)
            assert nrc is not None, f"31 01 {rid:04X} ran while locked"
            if nrc != 0x31:
                assert nrc == 0x33, f"31 01 {rid:04X} -> {answer.hex(' ')}"
                found.add(rid)
        assert found == (declared if session == PROGRAMMING else set()) | bank
    scanner.unlock()
    for sub in (0x02, 0x03):                                  # stop and results: not supported
        assert scanner.client.answer(bytes([0x31, sub]) + routines.erase.to_bytes(2, "big")) == bytes([0x7F, 0x31, 0x12])


def test_suppress_positive_response_bit(scanner: Scanner) -> None:
    client = scanner.client
    assert client.request("3E 80", silent=True).final is None
    assert client.request("3E 80", functional=True, silent=True).final is None
    assert client.request("10 83", silent=True).final is None
    assert client.answer(bytes([0x27, scanner.profile.security.level]))[0] == 0x67  # extended: it took effect
    assert client.answer("3E 85") == bytes.fromhex("7F 3E 12")  # negative responses are never suppressed
    assert client.request("10 81", silent=True).final is None


def test_default_session_from_the_bootloader_starts_the_application(scanner: Scanner) -> None:
    boot_state = scanner.profile.dids.boot_state.to_bytes(2, "big")
    for session in (EXTENDED, PROGRAMMING, EXTENDED):
        assert scanner.client.answer(bytes([0x10, session]))[:2] == bytes([0x50, session])
    assert scanner.client.answer(b"\x22" + boot_state)[3] == 1     # mode: bootloader
    assert scanner.client.answer("10 01")[:2] == bytes([0x50, DEFAULT])
    assert scanner.client.answer(b"\x22" + boot_state)[3] == 0     # mode: application again


@pytest.mark.parametrize(("request_", "physical_nrc"), [
    ("BA", 0x11), ("3E 05", 0x12), ("22 12 34", 0x31), ("10 02", 0x7E), ("27 11", 0x7F), ("3E 00 00", 0x13),
])
def test_functional_addressing_suppresses_the_nrcs_iso_lists(scanner: Scanner, request_: str,
                                                          physical_nrc: int) -> None:
    sid = bytes.fromhex(request_)[0]
    assert scanner.client.answer(request_) == bytes([0x7F, sid, physical_nrc])
    suppressed = physical_nrc in SUPPRESSED_ON_FUNCTIONAL
    functional = scanner.client.answer(request_, functional=True, silent=suppressed)
    if suppressed:
        assert functional is None
    else:
        assert functional == bytes([0x7F, sid, physical_nrc])
    assert scanner.client.answer("3E 00", functional=True) == bytes.fromhex("7E 00")


@pytest.fixture
def short_s3(bench_config: BenchConfig, tmp_path: Path):
    """The default bench with S3 at 0.5 s, so that a test can let it expire."""
    profiles = {name: profile.model_copy(update={"timing": profile.timing.model_copy(update={"s3": 0.5})})
                for name, profile in bench_config.profiles.items()}
    config = bench_config.model_copy(update={"profiles": profiles})
    with Bench(config, workdir=tmp_path, ecus=["bcm"], gateway=False) as rig:
        scan = Scanner(rig, "bcm")
        yield scan
        scan.client.close()


@pytest.mark.parametrize("session", [EXTENDED, PROGRAMMING])
def test_s3_expiry_returns_to_the_default_session(short_s3: Scanner, session: int) -> None:
    short_s3.enter(session)
    time.sleep(1.0)                                             # twice S3 without a request
    assert short_s3.client.answer("27 11") == bytes.fromhex("7F 27 7F")
    assert short_s3.client.answer("22 FD 02") == bytes.fromhex("62 FD 02 00 00 00 00")  # the application
