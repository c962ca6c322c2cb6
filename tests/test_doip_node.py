"""A virtual ECU on Ethernet that is itself a DoIP entity (ISO 13400-2 DoIP node): an A/B high-
performance computer with no CAN behind it (fixtures/benches/doip-hpc.yaml), flashed by the
flasher over udsoncan and doipclient with 32 KiB TransferData blocks; its entity lives and dies
with its power."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest

from bench.cli import main
from bench.config import BenchConfig, load_bench
from bench.errors import ConfigError, FlashError
from bench.faults import FaultInjector, uds
from bench.transport.doip_link import DoipLink

BENCHES = Path(__file__).resolve().parents[1] / "fixtures" / "benches"
HPC_BENCH = BENCHES / "doip-hpc.yaml"
TEXT = (HPC_BENCH.read_text(encoding="utf-8")
        .replace("../", f"{BENCHES.parent}/"))


@pytest.fixture
def bench_config() -> BenchConfig:
    return load_bench(HPC_BENCH)


def test_the_hpc_is_flashed_over_ethernet_in_32_kib_blocks(bench, ecu, flasher, firmware) -> None:  # noqa: ANN001
    assert isinstance(ecu.link, DoipLink) and bench.traces == {}, "no CAN anywhere"
    image = firmware("app-3.0.0-1mib")
    result = flasher.flash(image)
    assert result.failure is None, result.timeline.render()
    assert result.block_size == 0x8000 and result.blocks_sent == -(-len(image.to_bytes()) // 0x8000)
    assert result.version_after == "3.0.0"


def test_a_power_cut_mid_download_leaves_the_old_bank_running_and_the_next_flash_completes(
        bench, ecu, flasher, sim, power, firmware) -> None:  # noqa: ANN001
    entity = bench.doip_gateways["zone-hpc"]
    image = firmware("app-3.0.0-1mib")
    half_way = sim.download_base_index("program_page") + 2048  # of the 4096 pages of 256 B of 1 MiB
    sim.probes.once("program_page", half_way, power.off)
    with pytest.raises(FlashError) as failure:
        flasher.flash(image)
    cut = failure.value.result
    assert cut.timeline.steps[-1].name == "TransferData" and 0 < cut.bytes_sent < len(image.to_bytes())
    power.on()
    assert ecu.diagnostics.read_version() == "1.0.0", "A/B: the bank that was not written still runs"
    result = flasher.flash(image)
    assert result.failure is None, result.timeline.render()
    assert result.version_after == "3.0.0"
    assert entity.activations == 2, "the power cut closed the entity's socket: the tester activated routing again"


def test_a_uds_trigger_strikes_the_ecu_on_ethernet_from_inside_it(
        bench, ecu, flasher, power, firmware) -> None:  # noqa: ANN001
    """No bus to monitor: the trigger hears the virtual ECU's own request tap."""
    injector = FaultInjector(bench)
    try:
        injector.when(uds.request("TransferData", nth=3)).power_cut(ecu)
        with pytest.raises(FlashError) as failure:
            flasher.flash(firmware("app-3.0.0-1mib"))
    finally:
        injector.close()
    assert failure.value.result.blocks_sent == 2, failure.value.result.timeline.render()
    power.on()
    assert ecu.diagnostics.read_version() == "1.0.0"


def test_the_entity_says_it_is_a_doip_node_and_is_silent_while_the_ecu_is_off(bench, ecu, power) -> None:  # noqa: ANN001
    entity = bench.doip_gateways["zone-hpc"]
    status_request = struct.pack("!BBHL", 0x02, 0xFD, 0x4001, 0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5.0)
        udp.sendto(status_request, entity.address)
        status = udp.recv(0x1000)
        # node type 0x01 (DoIP node), 2 sockets at most, (the sockets open), 0x10005 bytes at most
        assert status[:10] == bytes.fromhex("02 fd 4002 00000007 01 02") and status[11:] == bytes.fromhex("00010005")
        power.off()
        udp.settimeout(0.3)
        udp.sendto(status_request, entity.address)
        with pytest.raises(TimeoutError):
            udp.recv(0x1000)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    via: zone-hpc ", "    # via ",
     "FILE:46: ecus.hpc: no bus and no via: an ECU on CAN needs bus, request_id and response_id; an ECU on "
     "Ethernet needs via"),
    ("    power: kl30_hpc", "    power: kl30_hpc\n    request_id: 0x7E0",
     "FILE:49: ecus.hpc.request_id: request_id is a CAN identifier, but ECU 'hpc' has no bus"),
    ("      virtual: true ", "      virtual: false ",
     "FILE:47: ecus.hpc.via: ECU 'hpc' on Ethernet is DoIP entity 'zone-hpc' itself: both are virtual"),
], ids=["neither bus nor via", "a CAN identifier without a bus", "a real entity for a virtual ECU"])
def test_an_ethernet_ecus_mistakes_name_the_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert TEXT.count(old) == 1, f"test setup: {old!r} must occur once"
    path = tmp_path / "bench.yaml"
    path.write_text(TEXT.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_bench(path)
    message = str(caught.value).replace(str(path.resolve()), "FILE")
    assert expected in message, message


def test_an_ecu_on_can_still_needs_its_identifiers(tmp_path: Path) -> None:
    text = (BENCHES / "doip.yaml").read_text(encoding="utf-8").replace("../", f"{BENCHES.parent}/")
    path = tmp_path / "bench.yaml"
    path.write_text(text.replace("    response_id: 0x7E8\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ecus\.bcm\.response_id: missing: an ECU on bus 'body' needs its "
                                          r"response_id"):
        load_bench(path)


def test_the_command_line_lists_the_hpc_on_ethernet_and_does_not_serve_it_alone(capsys) -> None:  # noqa: ANN001
    assert main(["list", "--bench", str(HPC_BENCH)]) == 0
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row[:8] == ["hpc", "-", "(Ethernet:", "DoIP", "zone-hpc)", "-", "-", "-"], row
    assert main(["sim", "--bench", str(HPC_BENCH), "--ecu", "hpc"]) == 2
    assert "ECU 'hpc' is on Ethernet (no bus): sim serves ECUs on CAN" in capsys.readouterr().err
