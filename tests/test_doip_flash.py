"""Flashing virtual ECUs through the virtual DoIP gateway with the plugin's own fixtures: the bench
file says the ECUs are reached via the gateway, so ``ecu``, ``flasher``, ``power`` and ``sim`` speak
udsoncan over doipclient on the tester's side, ISO-TP on CAN behind the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.errors import FlashError
from bench.transport.doip_link import DoipLink

DOIP_BENCH = Path(__file__).resolve().parents[1] / "fixtures" / "benches" / "doip.yaml"


@pytest.fixture
def bench_config() -> BenchConfig:
    return load_bench(DOIP_BENCH)


def can_requests(bench, can_id: int) -> int:  # noqa: ANN001 - the plugin's Bench
    bus = "powertrain" if can_id == 0x7E1 else "body"
    return sum(frame.arbitration_id == can_id for frame in bench.traces[bus].frames)


@pytest.mark.ecu("bms")
def test_an_ecu_behind_the_doip_gateway_is_flashed_end_to_end(bench, ecu, flasher, firmware) -> None:  # noqa: ANN001
    assert isinstance(ecu.link, DoipLink)
    image = firmware("app-2.0.0")
    result = flasher.flash(image)
    assert result.failure is None, result.timeline.render()
    assert all(step.outcome == "ok" for step in result.timeline.steps)
    assert result.version_after == "2.0.0" and result.bytes_sent == len(image.to_bytes())
    assert can_requests(bench, 0x7E1) > len(image.to_bytes()) // 64, "the download went over CAN FD behind the gateway"


@pytest.mark.ecu("bcm")
def test_a_power_cut_behind_the_gateway_is_resumed_through_it(ecu, flasher, sim, power, firmware) -> None:  # noqa: ANN001
    image = firmware("app-2.0.0")
    sim.probes.once("program_page", 100, power.off)  # in the 7th 4 KiB block
    with pytest.raises(FlashError) as failure:
        flasher.flash(image)
    cut = failure.value.result
    assert cut.timeline.steps[-1].name == "TransferData" and cut.bytes_sent > 0
    power.on()
    result = flasher.flash(image, resume=True)
    assert result.resumed_from > 0
    assert 0 <= (cut.bytes_sent + cut.block_size) - result.resumed_from <= result.block_size
    assert result.version_after == "2.0.0"


@pytest.mark.ecu("bcm")
def test_a_gateway_reset_mid_download_is_survived_by_reconnecting_and_activating_again(
        bench, ecu, flasher, sim, firmware) -> None:  # noqa: ANN001
    gateway = bench.doip_gateways["central-gateway"]
    sim.probes.once("program_page", 100, gateway.reset)  # while a block is being programmed
    image = firmware("app-2.0.0")
    result = flasher.flash(image)
    assert result.failure is None, result.timeline.render()
    assert result.version_after == "2.0.0"
    # the tester connected and activated routing again (its keepalive or its next block did, whichever
    # came first: the block's answer was lost with the socket, or came on the new one)
    assert gateway.activations == 2


@pytest.mark.ecu("bcm")
def test_a_nacked_transfer_data_block_is_sent_again(bench, ecu, flasher, firmware) -> None:  # noqa: ANN001
    injection = bench.doip_gateways["central-gateway"].inject_nack(0x05, service=0x36, nth=3)
    result = flasher.flash(firmware("app-2.0.0"))
    assert result.failure is None, result.timeline.render()
    assert injection.refused[0][:2] == bytes([0x36, 0x03]), "the third block was refused"
    assert result.retries == 1 and result.version_after == "2.0.0"


@pytest.mark.ecu("bcm")
def test_a_nack_the_gateway_keeps_giving_fails_the_flash_naming_its_meaning(bench, ecu, flasher, firmware) -> None:  # noqa: ANN001
    bench.doip_gateways["central-gateway"].inject_nack(0x06, service=0x36, nth=2, count=flasher.block_retries + 1)
    with pytest.raises(FlashError) as failure:
        flasher.flash(firmware("app-2.0.0"))
    step = failure.value.result.timeline.steps[-1]
    assert (step.name, step.outcome) == ("TransferData", "DoIP NACK 0x06 (target unreachable)")
    assert "refused the diagnostic message 36 to 0x1010 with DoIP NACK 0x06 (target unreachable)" \
        in failure.value.result.failure
