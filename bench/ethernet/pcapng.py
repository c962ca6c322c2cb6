"""pcapng evidence of a DoIP relay's traffic, written with scapy.

Each relayed connection becomes TCP segments between the tester's loopback address and port and
the DoIP entity on 127.0.0.1:13400 (ISO 13400-2's TCP_DATA port, which Wireshark's DoIP dissector
decodes by default), whatever ephemeral port the relay listened on: a three-way handshake, one
segment per forwarded DoIP message with sequence and acknowledgement numbers that follow the bytes
sent each way, then the FINs or the RST the relay passed on. Datagrams of UDP_DISCOVERY (vehicle
identification) are UDP packets between the tester's port and 13400 (also the DoIP UDP port).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import PcapNgWriter

from bench.ethernet.direction import Direction
from bench.ethernet.relay import TcpEvent
from bench.ethernet.udp_relay import UdpEvent

DOIP_TCP_PORT = 13400
ENTITY_HOST = "127.0.0.1"
_INITIAL_SEQUENCE = {Direction.TO_ENTITY: 1000, Direction.TO_TESTER: 5000}


class _TcpStream:
    """The sequence numbers of one connection, each way."""

    def __init__(self, tester: tuple[str, int]) -> None:
        self.tester = tester
        self.seq = dict(_INITIAL_SEQUENCE)

    def segment(self, direction: Direction, flags: str, data: bytes = b"") -> Packet:
        back = Direction.TO_TESTER if direction is Direction.TO_ENTITY else Direction.TO_ENTITY
        tester_host, tester_port = self.tester
        if direction is Direction.TO_ENTITY:
            ip = IP(src=tester_host, dst=ENTITY_HOST)
            ports = {"sport": tester_port, "dport": DOIP_TCP_PORT}
        else:
            ip = IP(src=ENTITY_HOST, dst=tester_host)
            ports = {"sport": DOIP_TCP_PORT, "dport": tester_port}
        ack = self.seq[back] if "A" in flags else 0
        packet = Ether() / ip / TCP(**ports, flags=flags, seq=self.seq[direction], ack=ack)
        if data:
            packet = packet / Raw(data)
        # SYN and FIN take one sequence number each, data its length
        self.seq[direction] += len(data) + ("S" in flags) + ("F" in flags)
        return packet


def segments(events: Iterable[TcpEvent]) -> list[Packet]:
    """The TCP segments of the relay's events, timed as they happened."""
    streams: dict[int, _TcpStream] = {}
    packets: list[Packet] = []

    def add(packet: Packet, when: float) -> None:
        packet.time = when
        packets.append(packet)

    for event in events:
        if event.flag == "S":
            stream = streams[event.connection] = _TcpStream(event.tester)
            add(stream.segment(Direction.TO_ENTITY, "S"), event.time)
            add(stream.segment(Direction.TO_TESTER, "SA"), event.time)
            add(stream.segment(Direction.TO_ENTITY, "A"), event.time)
            continue
        stream = streams[event.connection]
        if event.flag == "R":
            add(stream.segment(event.direction, "R"), event.time)
        elif event.flag == "F":
            add(stream.segment(event.direction, "FA"), event.time)
        else:
            add(stream.segment(event.direction, "PA", event.data), event.time)
    return packets


def datagram(event: UdpEvent) -> Packet:
    """A relayed UDP_DISCOVERY datagram as a UDP packet, timed as it happened."""
    tester_host, tester_port = event.tester
    if event.direction is Direction.TO_ENTITY:
        packet = Ether() / IP(src=tester_host, dst=ENTITY_HOST) / UDP(sport=tester_port, dport=DOIP_TCP_PORT)
    else:
        packet = Ether() / IP(src=ENTITY_HOST, dst=tester_host) / UDP(sport=DOIP_TCP_PORT, dport=tester_port)
    packet = packet / Raw(event.data)
    packet.time = event.time
    return packet


def write_pcapng(events: Iterable[TcpEvent], path: Path, datagrams: Iterable[UdpEvent] = ()) -> Path:
    """The relay's TCP ``events`` and UDP ``datagrams`` as a pcapng file at ``path``, in time order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    packets = sorted([*segments(events), *map(datagram, datagrams)], key=lambda packet: float(packet.time))
    with PcapNgWriter(str(path)) as writer:
        for packet in packets:
            writer.write(packet)
    return path
