"""The image flasher and the bank switch against a virtual ECU that answers once, as ISO 14229-1 lets a
server: 0x21 busyRepeatRequest (the client repeats the identical request) and 0x37
requiredTimeDelayNotExpired to requestSeed (the flasher waits out the delay timer and asks again).
Neither is an ECU failure: the flash and the switch complete. (The spec flasher meets both in
tests/test_foreign_bootloader.py; the give-up bounds are tests/test_repeated_requests.py's.)"""

from __future__ import annotations

import threading

import pytest

from bench.sim.ecu import VirtualEcu
from bench.sim.server import Reply

BUSY, DELAY = 0x21, 0x37
REQUEST_SEED = bytes.fromhex("27 11")


def refuse_once(sim: VirtualEcu, monkeypatch: pytest.MonkeyPatch, request: bytes, nrc: int) -> list[bytes]:
    """The powered ECU answers its first request starting with ``request`` with ``nrc``, then as it
    would; the requests of that kind it received (so the test sees the repeat)."""
    core = sim.core()
    assert core is not None
    handle, seen, lock = core.handle, [], threading.Lock()

    def answer(payload: bytes, *, functional: bool = False) -> Reply:
        if payload.startswith(request):
            with lock:
                seen.append(payload)
                if len(seen) == 1:
                    return Reply(bytes([0x7F, payload[0], nrc]))
        return handle(payload, functional=functional)

    monkeypatch.setattr(core, "handle", answer)
    return seen


@pytest.mark.ecu("bcm")
@pytest.mark.parametrize("request_, nrc, step", [
    (bytes.fromhex("34"), BUSY, "RequestDownload"),
    (REQUEST_SEED, DELAY, "SecurityAccess level 0x11"),
], ids=["0x21 to RequestDownload", "0x37 to requestSeed"])
def test_the_image_flasher_repeats_a_request_answered_busy_or_delay(ecu, flasher, sim, firmware, monkeypatch,
                                                                    request_: bytes, nrc: int, step: str) -> None:
    seen = refuse_once(sim, monkeypatch, request_, nrc)
    result = flasher.flash(firmware("app-2.0.0"))
    assert result.version_after == "2.0.0"
    assert len(seen) == 2 and seen[0] == seen[1]  # the identical request, once more
    if nrc == DELAY:
        [timed] = [s for s in result.timeline.steps if s.name == step]
        assert "security delay timer (0x37" in timed.detail


@pytest.mark.ecu("bms")
@pytest.mark.parametrize("request_, nrc", [
    (bytes.fromhex("31 01 02 10"), BUSY),   # RoutineControl switch_bank
    (REQUEST_SEED, DELAY),
], ids=["0x21 to switch_bank", "0x37 to requestSeed"])
def test_the_bank_switch_repeats_a_request_answered_busy_or_delay(ecu, flasher, sim, firmware, monkeypatch,
                                                                  request_: bytes, nrc: int) -> None:
    flasher.flash(firmware("app-2.0.0"))
    seen = refuse_once(sim, monkeypatch, request_, nrc)   # the ECU started again by the flash's reset
    result = flasher.switch_back("1.0.0")
    assert result.version_after == "1.0.0" and result.failure is None
    assert len(seen) == 2 and seen[0] == seen[1]
