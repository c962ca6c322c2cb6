"""TCP faults between the tester and the virtual DoIP gateway, through the relay the bench puts in
between (``Bench.relay_doip``), and the pcapng evidence of that traffic read back."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import TCP, UDP
from scapy.utils import rdpcap

from bench.config import load_bench
from bench.errors import ConfigError, UsageError
from bench.ethernet import RelayFault
from bench.rig import Bench

REPO = Path(__file__).resolve().parents[1]
TRANSFER_DATA = 0x36


def doip_messages(stream: bytes) -> list[tuple[int, bytes]]:
    """(payload type, payload) of each DoIP message in a TCP stream."""
    messages = []
    while stream:
        payload_type, length = int.from_bytes(stream[2:4], "big"), int.from_bytes(stream[4:8], "big")
        messages.append((payload_type, stream[8:8 + length]))
        stream = stream[8 + length:]
    return messages


def streams(capture: Path) -> dict[tuple[int, int], bytes]:
    """The bytes each way of each connection, (tester port, to 13400 or not) -> bytes, checking on the
    way that every segment's sequence number follows the bytes before it and acknowledges the other way's."""
    next_seq: dict[tuple[int, int], int] = {}
    data: dict[tuple[int, int], bytes] = {}
    for packet in rdpcap(str(capture)):
        tcp = packet[TCP]
        assert 13400 in (tcp.sport, tcp.dport)
        way = (tcp.sport, 1) if tcp.dport == 13400 else (tcp.dport, 0)
        back = (way[0], 1 - way[1])
        if "S" not in tcp.flags:
            assert tcp.seq == next_seq[way], f"segment {packet.summary()} out of sequence"
        if "A" in tcp.flags:
            assert tcp.ack == next_seq[back], f"segment {packet.summary()} acknowledges a wrong byte"
        payload = bytes(tcp.payload)
        next_seq[way] = tcp.seq + len(payload) + ("S" in tcp.flags) + ("F" in tcp.flags)
        data[way] = data.get(way, b"") + payload
    return data


def test_a_reset_mid_transfer_data_is_survived_by_reconnecting_activating_and_resuming(
        tmp_path: Path, firmware) -> None:  # noqa: ANN001
    image = firmware("app-2.0.0")
    config = load_bench(REPO / "fixtures" / "benches" / "doip.yaml")
    with Bench(config, workdir=tmp_path, ecus=["bcm"]) as bench:
        relay = bench.relay_doip("central-gateway")
        relay.inject(RelayFault("reset", service=TRANSFER_DATA, nth=5))
        gateway = bench.doip_gateways["central-gateway"]
        flasher = bench.ecu("bcm").flasher
        result = flasher.flash(image)
        assert relay.fired == [RelayFault("reset", service=TRANSFER_DATA, nth=5)]
        assert result.failure is None, result.timeline.render()
        assert result.version_after == "2.0.0"
        assert gateway.activations == 2 and relay.connections == 2, "reconnected and activated routing again"
        blocks = -(-len(image.to_bytes()) // result.block_size)
        tried = relay.diagnostic_counts[TRANSFER_DATA]
        flags = [event.flag for event in relay.events if event.flag]
    assert flags[:3] == ["S", "R", "R"] and flags[3] == "S"
    by_way = streams(tmp_path / "doip-central-gateway.pcapng")
    first, second = sorted({port for port, _ in by_way})
    for port in (first, second):
        sent = doip_messages(by_way[(port, 1)])
        assert sent[0][0] == 0x0005, "each connection starts with a routing activation request"
        assert doip_messages(by_way[(port, 0)])[0][0] == 0x0006
    transfers = [payload for port in (first, second) for kind, payload in doip_messages(by_way[(port, 1)])
                 if kind == 0x8001 and payload[4] == TRANSFER_DATA]
    assert len(transfers) == tried - 1, "the capture holds what reached the gateway: all but the reset block"
    assert blocks <= len(transfers) <= blocks + 1, "at most one block sent again"
    assert sorted({payload[5] for payload in transfers}) == [n + 1 for n in range(blocks)]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (Debian: apt-get install tshark)")
def test_tsharks_doip_dissector_decodes_the_capture(tmp_path: Path) -> None:
    config = load_bench(REPO / "fixtures" / "benches" / "doip.yaml")
    with Bench(config, workdir=tmp_path, ecus=["bcm"]) as bench:
        bench.relay_doip("central-gateway").inject(RelayFault("reset", service=0x22, nth=2))
        diagnostics = bench.ecu("bcm").diagnostics
        assert [diagnostics.read_version() for _ in range(2)] == ["1.0.0", "1.0.0"]  # the second one reconnects
    capture = str(tmp_path / "doip-central-gateway.pcapng")

    def tshark(*arguments: str) -> str:
        return subprocess.run(["tshark", "-r", capture, *arguments], capture_output=True, text=True,
                              check=True).stdout

    types = [int(field, 16) for field in tshark("-Y", "doip", "-T", "fields", "-e", "doip.type").split()]
    assert types.count(0x0005) == 2 and types.count(0x0006) == 2, "a routing activation on each connection"
    assert {0x8001, 0x8002} <= set(types), types
    assert tshark("-Y", "tcp.flags.reset == 1", "-T", "fields", "-e", "tcp.srcport").split().count("13400") == 1
    assert tshark("-Y", "tcp.analysis.flags") == "", "Wireshark's TCP analysis finds no lost or out-of-order segment"


def test_a_stall_within_the_testers_timeouts_costs_time_not_the_flash(tmp_path: Path, firmware) -> None:  # noqa: ANN001
    image = firmware("app-2.0.0")
    config = load_bench(REPO / "fixtures" / "benches" / "doip.yaml")
    with Bench(config, workdir=tmp_path, ecus=["bcm"]) as bench:
        relay = bench.relay_doip("central-gateway")
        relay.inject(RelayFault("stall", service=TRANSFER_DATA, nth=3, seconds=0.5))
        result = bench.ecu("bcm").flasher.flash(image)
        assert relay.fired, "the stall was injected"
        assert result.failure is None and result.retries == 0, result.timeline.render()
        assert relay.connections == 1 and bench.doip_gateways["central-gateway"].activations == 1


def test_a_relay_is_asked_for_a_known_entity_before_the_first_request(tmp_path: Path) -> None:
    config = load_bench(REPO / "fixtures" / "benches" / "doip.yaml")
    with Bench(config, workdir=tmp_path, ecus=["bcm"]) as bench:
        with pytest.raises(ConfigError, match="no DoIP entity named 'body-gateway'"):
            bench.relay_doip("body-gateway")
        assert bench.ecu("bcm").diagnostics.read_version() == "1.0.0"
        with pytest.raises(UsageError, match="before the first request"):
            bench.relay_doip("central-gateway")


def test_a_reset_while_the_tester_awaits_the_answer_is_a_lost_answer_then_a_new_connection(tmp_path: Path,
                                                                                              firmware) -> None:  # noqa: ANN001
    """The RST comes after doipclient's own check after a send (the relay holds each message 30 ms):
    the tester sees it while awaiting the ACK, retries the block, and reconnects. ΔP2 of 1 s: the
    relay's holds take a third of the bench file's P2 + ΔP2 (0.2 s) by design, which a loaded host
    must not turn into a P2 timeout before the reset."""
    image = firmware("app-2.0.0")
    config = load_bench(REPO / "fixtures" / "benches" / "doip.yaml").with_network_margin(1.0)
    with Bench(config, workdir=tmp_path, ecus=["bcm"]) as bench:
        relay = bench.relay_doip("central-gateway")
        relay.delay = 0.03
        relay.inject(RelayFault("reset", service=TRANSFER_DATA, nth=5))
        result = bench.ecu("bcm").flasher.flash(image)
        assert relay.fired and result.failure is None, result.timeline.render()
        assert result.retries == 1 and result.version_after == "2.0.0"
        assert relay.connections == 2 and bench.doip_gateways["central-gateway"].activations == 2


def test_a_half_open_connection_mid_download_is_left_for_a_new_one(tmp_path: Path, firmware) -> None:  # noqa: ANN001
    """The tester gets a FIN while its messages still reach the gateway: doipclient closes its socket
    (the relay passes that FIN on, so the gateway drops the old socket), connects anew, activates
    routing again and sends the block again."""
    image = firmware("app-2.0.0")
    config = load_bench(REPO / "fixtures" / "benches" / "doip.yaml")
    with Bench(config, workdir=tmp_path, ecus=["bcm"]) as bench:
        relay = bench.relay_doip("central-gateway")
        relay.inject(RelayFault("half_open", service=TRANSFER_DATA, nth=5))
        result = bench.ecu("bcm").flasher.flash(image)
        assert relay.fired and result.failure is None, result.timeline.render()
        assert result.version_after == "2.0.0"
        assert relay.connections == 2 and bench.doip_gateways["central-gateway"].activations == 2


VEHICLE_IDENTIFICATION_REQUEST = bytes.fromhex("02 fd 0001 00000000")


def identify_through_the_relay(tmp_path: Path) -> tuple[bytes, int]:
    """A vehicle identification request to the relay's UDP port, on a bench that then closes: the
    answer, and the tester's port."""
    config = load_bench(REPO / "fixtures" / "benches" / "doip.yaml")
    with Bench(config, workdir=tmp_path, ecus=["bcm"]) as bench:
        relay = bench.relay_doip("central-gateway")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(5.0)
            udp.bind(("127.0.0.1", 0))
            udp.sendto(VEHICLE_IDENTIFICATION_REQUEST, relay.address)
            return udp.recv(0x1000), udp.getsockname()[1]


def test_vehicle_identification_through_the_relay_is_in_the_capture_as_udp(tmp_path: Path) -> None:
    answer, port = identify_through_the_relay(tmp_path)
    assert answer[:8] == bytes.fromhex("02 fd 0004 00000021") and answer[8:25] == b"WOTAHILBENCH00001"
    packets = rdpcap(str(tmp_path / "doip-central-gateway.pcapng"))
    assert [(packet[UDP].sport, packet[UDP].dport, bytes(packet[UDP].payload)) for packet in packets] == [
        (port, 13400, VEHICLE_IDENTIFICATION_REQUEST), (13400, port, answer)]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (Debian: apt-get install tshark)")
def test_tsharks_doip_dissector_decodes_vehicle_identification_over_udp(tmp_path: Path) -> None:
    identify_through_the_relay(tmp_path)
    fields = subprocess.run(["tshark", "-r", str(tmp_path / "doip-central-gateway.pcapng"), "-Y", "udp && doip",
                             "-T", "fields", "-e", "doip.type", "-e", "doip.vin", "-e", "doip.logical_address"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    request, response = (line.split("\t") for line in fields)
    assert int(request[0], 16) == 0x0001
    assert int(response[0], 16) == 0x0004 and response[1] == "WOTAHILBENCH00001" and int(response[2], 16) == 0x1000
