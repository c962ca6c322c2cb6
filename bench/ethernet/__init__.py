"""Ethernet between the tester and DoIP entities: a TCP relay that injects faults, pcapng evidence."""

from bench.ethernet.relay import Direction, DoipRelay, RelayFault, TcpEvent

__all__ = ["Direction", "DoipRelay", "RelayFault", "TcpEvent"]
