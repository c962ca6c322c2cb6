"""The DoIP side of a bench: the virtual DoIP entities serving its ECUs, the tester's one
connection to each entity, and the TCP relays put between them to inject TCP faults and capture
the traffic (``doip-<entity>.pcapng`` in the workdir when the bench closes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import can

from bench.config.models import BenchConfig, EcuConfig, EcuProfile
from bench.doip import CanRoute, DoipGateway, NodeRoute
from bench.errors import ConfigError, UsageError
from bench.ethernet import DoipRelay
from bench.rig.closing import collect
from bench.sim.ports import DoipNode
from bench.transport.doip_link import DoipLink, DoipSession
from bench.transport.hop_lag import late_hops


class DoipSide:
    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self.gateways: dict[str, DoipGateway] = {}
        """The virtual DoIP entities serving the ECUs brought up, by name (``doip.entities``)."""
        self.relays: dict[str, DoipRelay] = {}
        """TCP relays put between the tester and DoIP entities (``relay``), by entity name."""
        self._sessions: dict[str, DoipSession] = {}

    def start(self, ecus: dict[str, EcuConfig], tester_bus: Callable[[str], tuple[can.BusABC, can.Notifier]],
              profile: Callable[[str], EcuProfile], nodes: Mapping[str, tuple[DoipNode, bool]]) -> None:
        """A virtual DoIP entity for each one an ECU brought up is reached through; it routes those ECUs.
        ``nodes``: the virtual ECUs on Ethernet (no bus) and whether each is powered now: the entity
        such an ECU is serves only while it is powered."""
        doip = self.config.doip
        for entity_name in dict.fromkeys(ecu.via for ecu in ecus.values() if ecu.via is not None):
            assert doip is not None  # the loader checked every via
            entity = doip.entities[entity_name]
            if not entity.virtual:
                continue
            networks = {logical: self.config.ecus[ecu_name].bus for ecu_name, logical in entity.routes.items()}
            gateway = self.gateways[entity_name] = DoipGateway(entity_name, entity, networks=networks)
            powered = True
            for ecu_name, logical in entity.routes.items():
                if ecu_name not in ecus:
                    continue  # not brought up: the gateway answers its address with NACK 0x06 or 0x07
                ecu = ecus[ecu_name]
                if ecu.bus is None:  # the ECU the entity is: its power is the entity's
                    node, powered = nodes[ecu_name]
                    route = NodeRoute(ecu_name, logical, max(profile(ecu_name).max_block_length, 4095), node.deliver,
                                      gateway.answer)
                    node.answer, node.powered = route.answered, gateway.set_power
                    gateway.add_route(route)
                    continue
                bus, notifier = tester_bus(ecu.bus)
                gateway.add_route(CanRoute(ecu_name, logical, ecu, profile(ecu_name), self.config.buses[ecu.bus],
                                           bus, notifier, gateway.answer))
            gateway.start(powered=powered)

    def relay(self, entity_name: str) -> DoipRelay:
        """A TCP relay between the tester and DoIP entity ``entity_name``, asked before the
        tester's first request to that entity."""
        if entity_name in self._sessions:
            raise UsageError(f"the tester is already connected to DoIP entity {entity_name!r}: "
                             "ask for its relay before the first request")
        if entity_name not in self.relays:
            if self.config.doip is None or entity_name not in self.config.doip.entities:
                raise ConfigError(f"no DoIP entity named {entity_name!r} on bench {self.config.name!r}",
                                  file=str(self.config.source or ""))
            entity = self.config.doip.entities[entity_name]
            gateway = self.gateways.get(entity_name)
            upstream = gateway.address if gateway is not None else (entity.host, entity.port)
            self.relays[entity_name] = DoipRelay(upstream, name=f"DoIP relay to {entity_name}").start()
        return self.relays[entity_name]

    def link(self, name: str, config: EcuConfig, profile: EcuProfile) -> DoipLink:
        """A tester link to ECU ``name`` through the entity its ``via`` names (not yet opened)."""
        assert self.config.doip is not None and config.via is not None  # the loader checked every via
        entity = self.config.doip.entities[config.via]
        return DoipLink(self._session(config.via), entity, entity.routes[name], profile)

    def _session(self, entity_name: str) -> DoipSession:
        """The tester's one connection to DoIP entity ``entity_name``, opened (and routing activated) on first use."""
        if entity_name not in self._sessions:
            assert self.config.doip is not None
            gateway = self.gateways.get(entity_name)
            relay = self.relays.get(entity_name)
            port = relay.address[1] if relay is not None else gateway.address[1] if gateway is not None else None
            self._sessions[entity_name] = DoipSession(self.config.doip.entities[entity_name], self.config.doip,
                                                      port=port)
        return self._sessions[entity_name]

    def stops(self) -> list[tuple[str, Callable[[], None]]]:
        """What closing the DoIP side stops, each independent of the others."""
        return [*((f"DoIP session with {name}", session.close) for name, session in self._sessions.items()),
                *((f"DoIP relay to {name}", relay.stop) for name, relay in self.relays.items()),
                *((f"DoIP entity {name}", gateway.stop) for name, gateway in self.gateways.items())]

    def faults(self) -> list[str]:
        return [f"DoIP entity {name}: {gateway.fault!r}" for name, gateway in self.gateways.items() if gateway.fault]

    def late_hops(self) -> list[str]:
        """What the host's load held in the entities and relays (``bench.transport.hop_lag``)."""
        return ([f"tester's connection to {name}: {missed}" for name, session in self._sessions.items()
                 for missed in session.missed_acks]
                + [text for gateway in self.gateways.values() for text in gateway.late_hops()]
                + late_hops(lag for relay in self.relays.values() for lag in relay.lags.values()))

    def write_captures(self, directory: Path) -> list[Path]:
        """Each relay's traffic so far, ``doip-<entity>.pcapng`` in ``directory``."""
        return [_capture(name, relay, directory) for name, relay in self.relays.items()]

    def finish(self, workdir: Path, errors: list[str]) -> None:
        """After ``stops``: each relay's capture written to the workdir; the side forgets everything."""
        for name, relay in self.relays.items():
            with collect(errors, f"capture of the DoIP relay to {name}"):
                _capture(name, relay, workdir)
        self.gateways.clear()
        self._sessions.clear()
        self.relays.clear()


def _capture(name: str, relay: DoipRelay, directory: Path) -> Path:
    from bench.ethernet.pcapng import write_pcapng  # scapy: 0.2 s of CPU to import, only for a relay

    # copies: the relay may still add
    return write_pcapng(list(relay.events), directory / f"doip-{name}.pcapng", list(relay.datagrams))
