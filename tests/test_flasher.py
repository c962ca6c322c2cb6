"""The flasher against the virtual bench (virtual CAN buses, simulated ECUs, virtual supplies):
the ISO 14229 sequence, its timeline, errors, resume after a power cut, a lost response."""

from __future__ import annotations

import pytest
from udsoncan import Response, services
from udsoncan.exceptions import TimeoutException, UnexpectedResponseException

from bench.config import BenchConfig
from bench.errors import FlashError
from bench.image import FirmwareImage

ISO_14229_SEQUENCE = [
    "ReadDataByIdentifier version before",
    "DiagnosticSessionControl extended (functional)",
    "ControlDTCSetting off (functional)",
    "CommunicationControl disableRxAndTx (functional)",
    "DiagnosticSessionControl programming",
    "SecurityAccess level 0x11",
    "WriteDataByIdentifier fingerprint",
    "RoutineControl erase",
    "RequestDownload",
    "TransferData",
    "RequestTransferExit",
    "RoutineControl check memory",
    "RoutineControl check programming dependencies",
    "ECUReset hard",
    "wait for ECU after reset",
    "ReadDataByIdentifier version",
    "CommunicationControl enableRxAndTx (functional)",
    "ControlDTCSetting on (functional)",
]


def programmed(sim, image: FirmwareImage, bank: int = 0) -> bytes:
    """What the simulated ECU's flash holds where ``image`` should be."""
    data = image.to_bytes()
    with open(sim.flash_path, "rb") as flash:
        flash.seek(sim.layout.offset(bank))
        return flash.read(len(data))


class TestCleanFlash:
    @pytest.fixture
    def bench_config(self, bench_config: BenchConfig) -> BenchConfig:
        return bench_config.with_network_margin(1.0)  # no retry from a loaded host's late answer

    @pytest.mark.parametrize("ecu", ["bcm", "bms"], indirect=True)
    def test_flash_runs_the_iso_14229_sequence(self, ecu, flasher, sim, firmware) -> None:
        image = firmware("app-2.0.0")
        result = flasher.flash(image)
        assert [step.name for step in result.timeline.steps] == ISO_14229_SEQUENCE
        assert all(step.outcome == "ok" for step in result.timeline.steps)
        assert result.version_after == "2.0.0"
        assert result.bytes_sent == len(image.to_bytes())
        assert result.resumed_from == 0 and result.retries == 0
        bank = sim.core().boot.running.bank
        assert programmed(sim, image, bank) == image.to_bytes()


@pytest.mark.ecu("bcm")
def test_block_size_comes_from_the_ecu(ecu, flasher, sim, power, firmware) -> None:
    sim.profile = sim.profile.model_copy(update={"max_block_length": 2 + 1024})  # the ECU's, not the tester's
    power.off()
    power.on()
    image = firmware("app-2.0.0")
    result = flasher.flash(image)
    assert result.block_size == 1024
    assert result.blocks_sent == -(-len(image.to_bytes()) // 1024)
    assert result.version_after == "2.0.0"


def wrong_key(level: int, seed: bytes, params: object) -> bytes:
    return bytes(b ^ 0xFF for b in seed)


@pytest.mark.ecu("bcm")
def test_wrong_security_key_fails_with_the_timeline(ecu, flasher, diagnostics, firmware) -> None:
    flasher.client.set_config("security_algo", wrong_key)
    with pytest.raises(FlashError, match="SecurityAccess") as failure:
        flasher.flash(firmware("app-2.0.0"))
    steps = failure.value.result.timeline.steps
    assert [s.name for s in steps] == ISO_14229_SEQUENCE[:6]
    assert steps[-1].outcome == "NRC 0x35 (InvalidKey)"
    ecu.power.off()
    ecu.power.on()
    assert diagnostics.read_version() == "1.0.0"      # nothing was erased


def cut_power_mid_transfer(sim, power, page: int) -> None:
    """Power off from inside the ECU, right before it programs flash page ``page``."""
    sim.probes.once("program_page", page, power.off)


@pytest.mark.ecu("bcm")
def test_resume_after_power_cut_resends_at_most_one_block(ecu, flasher, sim, power, firmware) -> None:
    image = firmware("app-2.0.0")
    cut_power_mid_transfer(sim, power, page=100)       # in the 7th 4 KiB block
    with pytest.raises(FlashError) as failure:
        flasher.flash(image)
    cut = failure.value.result
    assert cut.timeline.steps[-1].name == "TransferData"
    assert cut.bytes_sent > 0                           # acknowledged before the cut
    power.on()
    result = flasher.flash(image, resume=True)
    assert result.resumed_from > 0
    resent = (cut.bytes_sent + cut.block_size) - result.resumed_from  # the block in flight included
    assert 0 <= resent <= result.block_size
    assert result.bytes_sent == len(image.to_bytes()) - result.resumed_from
    assert "RoutineControl erase" not in [s.name for s in result.timeline.steps]
    assert result.version_after == "2.0.0"
    assert programmed(sim, image) == image.to_bytes()


@pytest.mark.ecu("bcm")
def test_resume_with_another_image_downloads_everything(ecu, flasher, sim, power, firmware) -> None:
    cut_power_mid_transfer(sim, power, page=100)
    with pytest.raises(FlashError):
        flasher.flash(firmware("app-2.0.0"))
    power.on()
    other = firmware("app-2.0.0-selftest-fail")        # same length, another header
    assert len(other.to_bytes()) == len(firmware("app-2.0.0").to_bytes())
    result = flasher.flash(other, resume=True)
    assert result.resumed_from == 0
    assert result.bytes_sent == len(other.to_bytes())
    assert "RoutineControl erase" in [s.name for s in result.timeline.steps]
    assert programmed(sim, other) == other.to_bytes()


@pytest.mark.ecu("bcm")
def test_lost_transfer_data_response_is_retried(ecu, flasher, sim, firmware, monkeypatch) -> None:
    client = flasher.client
    send_block = client.transfer_data
    calls = []

    def lose_third_response(counter: int, data: bytes) -> object:
        calls.append(counter)
        response = send_block(counter, data)            # the ECU programs the block and answers ...
        if len(calls) == 3:
            raise TimeoutException("response lost")     # ... but the answer never arrives
        return response

    monkeypatch.setattr(client, "transfer_data", lose_third_response)
    pages = []
    sim.probes.on("program_page", pages.append)
    image = firmware("app-2.0.0")
    result = flasher.flash(image)
    assert result.retries == 1
    assert calls[2] == calls[3] == 3                    # the same block, same counter, again
    assert len(pages) == -(-len(image.to_bytes()) // 256)  # and the ECU did not program it twice
    assert result.version_after == "2.0.0"
    assert programmed(sim, image) == image.to_bytes()


@pytest.mark.ecu("bcm")
def test_a_late_answer_to_a_retried_block_is_not_taken_for_the_next_one(ecu, flasher, sim, firmware,
                                                                        monkeypatch) -> None:
    client = flasher.client
    send_block = client.transfer_data
    calls = []

    def answer_block_3_late(counter: int, data: bytes) -> object:
        calls.append(counter)
        if len(calls) == 3:  # the ECU programs block 3 but its answer is late: the tester gives up
            send_block(counter, data)
            raise TimeoutException("response late")
        if len(calls) == 5:  # block 4 gets the late answer to block 3 (counter 3), as udsoncan sees it
            raise UnexpectedResponseException(Response(services.TransferData, Response.Code.PositiveResponse,
                                                       bytes([counter - 1])), "block sequence number mismatch")
        return send_block(counter, data)

    monkeypatch.setattr(client, "transfer_data", answer_block_3_late)
    image = firmware("app-2.0.0")
    result = flasher.flash(image)
    assert calls[2:6] == [3, 3, 4, 4]  # block 3 again, then block 4 again after the stale answer
    assert result.retries == 2 and result.version_after == "2.0.0"
    assert programmed(sim, image) == image.to_bytes()


@pytest.mark.ecu("bcm")
def test_waiting_for_the_ecu_drops_a_late_answer_to_an_earlier_request(diagnostics, monkeypatch) -> None:
    client = diagnostics.client
    tester_present = client.tester_present
    calls = []

    def stale_answer_first() -> object:
        calls.append(1)
        if len(calls) == 1:  # the late answer to the last TransferData of a failed attempt
            raise UnexpectedResponseException(Response(services.TransferData, Response.Code.PositiveResponse,
                                                       b"\x05"), "service ID different from the request's")
        return tester_present()

    monkeypatch.setattr(client, "tester_present", stale_answer_first)
    diagnostics.wait_responsive(5.0)
    assert len(calls) == 2
