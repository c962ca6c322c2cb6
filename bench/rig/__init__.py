"""A bench brought up from its configuration: tester buses, supplies, virtual ECUs, handles.

``Bench`` owns everything it opens and closes all of it, in order, even after a failure, so a
test that breaks never leaves the next one with a half-open bus or an ECU without power.

Virtual buses of python-can are process-wide by channel name; ``isolate=True`` gives each
Bench its own channel names so tests running side by side never hear each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path

import can

from bench.allocator import configure as configure_malloc
from bench.collector import freeze_long_lived
from bench.config.models import BenchConfig, EcuProfile
from bench.errors import BenchFault, ConfigError
from bench.flash import FlashResult
from bench.doip import DoipGateway
from bench.ethernet import DoipRelay
from bench.gateway import Gateway
from bench.instruments.slcan_bridge import SlcanBridge
from bench.monitor import BusMonitor, ecus_on_bus
from bench.monitor.vehicle_signals import VehicleSignals
from bench.console import SerialConsole
from bench.power import PowerSupply, VirtualSupply
from bench.power.drivers import close_supply, open_supply
from bench.power.process import ProcessSupply
from bench.power.virtual import NOMINAL_VOLTAGE
from bench.rig.closing import collect, side_by_side
from bench.rig.doip_side import DoipSide
from bench.rig.handle import EcuHandle, EcuReads  # noqa: F401 - EcuReads: part of this module's API
from bench.sim.console_port import ConsolePort
from bench.sim.ecu import VirtualEcu
from bench.sim.factory import build_virtual_ecu, load_dbc
from bench.sim.restbus import RestBus
from bench.sim.vehicle_state import VehicleState
from bench.transport import udsoncan_speedup
from bench.transport.can_bus import open_bus, open_notifier
from bench.transport.trace import BusTrace, Marker
from bench.transport.doip_link import DoipLink
from bench.transport.uds_client import TesterLink


class Bench:
    """The bench of ``config``, or the part of it a test needs.

    ``ecus`` brings up only these ECUs (with their buses, supplies and consoles); ``gateway=False``
    connects testers and ECUs directly even where the bench file routes a bus through the
    gateway (a test that injects no network fault saves a hop per frame).
    """

    def __init__(self, config: BenchConfig, *, workdir: Path, isolate: bool = True,
                 ecus: Iterable[str] | None = None, gateway: bool = True,
                 flash_progress: Path | Mapping[str, Path] | None = None) -> None:
        self.config = config
        self.workdir = workdir
        self.flash_progress = flash_progress
        """The ECUs' flash progress records (``EcuHandle.progress_record``): a folder of ``<ECU>.json``
        files, or the file of each ECU by name (an ECU not named keeps none); None: none kept."""
        self._token = uuid.uuid4().hex[:8] if isolate else ""
        self.ecu_names = list(config.ecus) if ecus is None else list(ecus)
        unknown = [name for name in self.ecu_names if name not in config.ecus]
        if unknown:
            raise ConfigError(f"no ECU named {unknown[0]!r} on bench {config.name!r}; it has: {', '.join(config.ecus)}",
                              file=str(config.source or ""))
        self._gateway = gateway
        self._buses: dict[str, tuple[can.BusABC, can.Notifier]] = {}
        self._links: list[TesterLink | DoipLink] = []
        self.doip = DoipSide(config)
        self.supplies: dict[str, PowerSupply] = {}
        self.consoles: dict[str, SerialConsole] = {}
        self._console_ports: dict[str, ConsolePort] = {}
        self.sims: dict[str, VirtualEcu] = {}
        self._handles: dict[str, EcuHandle] = {}
        self.monitors: dict[str, BusMonitor] = {}
        self.gateways: dict[str, Gateway] = {}
        self._gateway_sides: list[tuple[can.BusABC, can.BusABC]] = []
        self.hubs: dict[str, SlcanBridge] = {}
        """Buses with ``share: slcan``, served to programs outside the bench (SIL ECUs)."""
        self.vehicle: VehicleState | None = None
        """The vehicle state the rest-bus sends, when the bench file has ``restbus:``."""
        self.restbus: RestBus | None = None
        self._restbus_buses: dict[str, can.BusABC] = {}
        self.traces: dict[str, BusTrace] = {}
        """Every frame of each bus in use (its ECU side too, behind a gateway), from bench start;
        buses with ``trace: false`` (the default on real interfaces) are not recorded."""

    def channel(self, bus: str) -> str | int:
        """The tester's channel of ``bus``."""
        config = self.config.buses[bus]
        if config.interface == "virtual" and self._token:
            return f"{config.channel}#{self._token}"
        return config.channel

    def gatewayed(self, bus: str) -> bool:
        return self._gateway and self.config.buses[bus].gatewayed

    def ecu_channel(self, bus: str) -> str | int:
        """The ECUs' channel of ``bus``: beyond the gateway when it has one."""
        config = self.config.buses[bus]
        if not self.gatewayed(bus):
            return self.channel(bus)
        if config.interface == "virtual":
            return f"{self.channel(bus)}/ecu-side"
        assert config.ecu_channel is not None
        return config.ecu_channel

    def __enter__(self) -> Bench:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Create supplies and virtual ECUs, then switch every supply on.

        Installs the process-wide memo of udsoncan's response-code names
        (``bench.transport.udsoncan_speedup``), sets glibc's malloc for a long process
        (``bench.allocator``) and leaves what lives at the first start out of later garbage
        collections (``bench.collector``): the one place any of them is installed."""
        udsoncan_speedup.install()
        configure_malloc()
        freeze_long_lived()
        ecus = {name: self.config.ecus[name] for name in self.ecu_names}
        for name, power in self.config.power.items():
            if any(ecu.power == name for ecu in ecus.values()):
                self.supplies[name] = open_supply(name, power)
        for name, bus in self.config.buses.items():
            if self.gatewayed(name) and any(ecu.bus == name for ecu in ecus.values()):
                sides = (open_bus(name, bus, channel=self.channel(name)),
                         open_bus(name, bus, channel=self.ecu_channel(name)))
                self._gateway_sides.append(sides)
                self.gateways[name] = Gateway(*sides, name=f"gateway-{name}")
                self.gateways[name].start()
        for name in dict.fromkeys(ecu.bus for ecu in ecus.values() if ecu.bus is not None):
            bus = self.config.buses[name]
            if not bus.traced:
                continue
            tester_ids = {can_id for ecu in self.config.ecus.values() if ecu.bus == name
                          for can_id in (ecu.request_id, ecu.functional_id)}
            self.traces[name] = BusTrace(name, bus, self.channel(name), tester_ids=tester_ids)
            if self.gatewayed(name):
                self.traces[f"{name}-ecu-side"] = BusTrace(name, bus, self.ecu_channel(name), tester_ids=tester_ids,
                                                           side="ecu")
        programs = [supply for supply in self.supplies.values() if isinstance(supply, ProcessSupply)]
        named = [bus for program in programs for bus in program.settings.shared_buses()]
        for name in dict.fromkeys([*(ecu.bus for ecu in ecus.values() if ecu.bus is not None), *named]):
            if self.config.buses[name].share == "slcan":
                self.hubs[name] = SlcanBridge(partial(open_bus, name, self.config.buses[name],
                                                      channel=self.ecu_channel(name)))
        for program in programs:
            program.bind(self.workdir, {bus: hub.url for bus, hub in self.hubs.items()})
        dbc = load_dbc(self.config)
        if self.config.restbus is not None:
            self._start_restbus(VehicleSignals.from_dbc(dbc), self.config.restbus.buses)
        for name, ecu in ecus.items():
            if ecu.virtual is not None:
                channel = self.ecu_channel(ecu.bus) if ecu.bus is not None else None  # None: on Ethernet
                self.sims[name] = build_virtual_ecu(self.config, name, nvm_dir=self.workdir / "nvm",
                                                    channel=channel, dbc=dbc)
        for name, sim in self.sims.items():
            serial = self.config.serial.get(self.config.ecus[name].console or "")
            if serial is not None and serial.url == "pty":
                sim.console = self._console_ports[name] = ConsolePort()
            supply = self.supplies.get(self.config.ecus[name].power or "")
            if supply is None:
                sim.supply_changed(NOMINAL_VOLTAGE)  # no supply configured: always on
            else:
                assert isinstance(supply, VirtualSupply)  # the loader allows nothing else
                supply.attach(sim.supply_changed)
        for ecu, config in ecus.items():
            if config.console is not None:
                self.console(ecu)  # logging from before power-on: the boot log is the evidence
        self.doip.start(ecus, self._tester_bus, self.profile,
                        {name: (sim.node, sim.powered) for name, sim in self.sims.items() if sim.node is not None})
        for supply in self.supplies.values():
            supply.on()

    def _start_restbus(self, signals: VehicleSignals, buses: list[str]) -> None:
        """The rest-bus node on the ECUs' side of ``buses``, before any ECU is powered (so every
        ECU hears the vehicle state from its power-on)."""
        for name in buses:
            self._restbus_buses[name] = open_bus(name, self.config.buses[name], channel=self.ecu_channel(name))
        self.vehicle = VehicleState(signals)
        self.restbus = RestBus(self.vehicle, self._restbus_buses, name="restbus")
        self.restbus.start()

    @property
    def doip_gateways(self) -> dict[str, DoipGateway]:
        """The virtual DoIP entities serving the ECUs brought up, by name (``doip.entities``)."""
        return self.doip.gateways

    @property
    def doip_relays(self) -> dict[str, DoipRelay]:
        """TCP relays put between the tester and DoIP entities (``relay_doip``), by entity name."""
        return self.doip.relays

    def relay_doip(self, entity_name: str) -> DoipRelay:
        """A TCP relay between the tester and DoIP entity ``entity_name`` (to inject TCP faults and
        capture the traffic, written to ``doip-<entity>.pcapng`` in the workdir when the bench closes);
        asked before the tester's first request to that entity."""
        return self.doip.relay(entity_name)

    def _tester_bus(self, name: str) -> tuple[can.BusABC, can.Notifier]:
        """The tester's handle of bus ``name`` and its notifier, opened on first use."""
        if name not in self._buses:
            bus = open_bus(name, self.config.buses[name], channel=self.channel(name))
            self._buses[name] = (bus, open_notifier(bus))
        return self._buses[name]

    def profile(self, ecu: str) -> EcuProfile:
        return self.config.profiles[self.config.ecus[ecu].profile]

    def ecu(self, name: str) -> EcuHandle:
        if name not in self.ecu_names:
            where = "it has" if len(self.ecu_names) == len(self.config.ecus) else "this test brought up"
            raise ConfigError(f"no ECU named {name!r} on bench {self.config.name!r}; "
                              f"{where}: {', '.join(self.ecu_names)}", file=str(self.config.source or ""))
        if name not in self._handles:
            ecu = self.config.ecus[name]
            self._handles[name] = EcuHandle(name, ecu, self.profile(name), self.supplies.get(ecu.power or ""),
                                            self.sims.get(name), self._open_link, self._progress_record(name))
        return self._handles[name]

    def _progress_record(self, ecu: str) -> Path | None:
        where = self.flash_progress
        if isinstance(where, Mapping):
            return where.get(ecu)
        return None if where is None else Path(where) / f"{ecu}.json"

    def handles(self) -> dict[str, EcuHandle]:
        """The handles of the ECUs this test has reached so far (through ``ecu(name)``)."""
        return dict(self._handles)

    def _open_link(self, handle: EcuHandle) -> TesterLink | DoipLink:
        bus_name = handle.config.bus
        link: TesterLink | DoipLink
        if handle.config.via is not None:
            link = self.doip.link(handle.name, handle.config, handle.profile)
        else:
            bus, notifier = self._tester_bus(bus_name)
            link = TesterLink(handle.config, handle.profile, self.config.buses[bus_name], bus, notifier)
        link.open()
        self._links.append(link)
        if handle.sim is not None:
            link.ecu_powered(handle.sim.powered)
            handle.sim.power_listeners.append(link.ecu_powered)
        return link

    def monitor(self, bus: str) -> BusMonitor:
        """The passive UDS monitor of ``bus`` (tester side), started on first use; on its own bus
        handle so it takes no frame away from the tester."""
        if bus not in self.monitors:
            handle = open_bus(bus, self.config.buses[bus], channel=self.channel(bus))
            monitor = BusMonitor(handle, self.config.buses[bus], ecus_on_bus(self.config, bus), name=f"monitor-{bus}")
            monitor.start()
            self.monitors[bus] = monitor
        return self.monitors[bus]

    def console(self, ecu: str) -> SerialConsole:
        """The ECU's serial console, logged to ``<workdir>/<ecu>-console.log`` from bench start."""
        if ecu not in self.consoles:
            name = self.config.ecus[ecu].console
            if name is None:
                raise ConfigError(f"ECU {ecu!r} has no console on bench {self.config.name!r}",
                                  file=str(self.config.source or ""))
            serial = self.config.serial[name]
            url = self._console_ports[ecu].path if ecu in self._console_ports else serial.url
            self.consoles[ecu] = SerialConsole(name, url, baudrate=serial.baudrate,
                                               log_path=self.workdir / f"{ecu}-console.log")
        return self.consoles[ecu]

    def gateway(self, bus: str) -> Gateway:
        if bus not in self.gateways:
            if not self._gateway:
                raise ConfigError(f"bus {bus!r}: this bench was brought up without its gateway (gateway=False), "
                                  "so network faults cannot be injected on it")
            raise ConfigError(f"bus {bus!r} has no gateway, so network faults cannot be injected on it; "
                              "set gateway: true (real buses also need ecu_channel)", file=str(self.config.source or ""))
        return self.gateways[bus]

    def flash_results(self) -> list[tuple[str, int, FlashResult]]:
        """(ECU, attempt number, result) of every flash attempt so far, failed ones included."""
        found = []
        for name, handle in self._handles.items():
            found += [(name, number, result) for number, result in enumerate(handle.reads().flashes, 1)]
        return found

    def evidence(self) -> dict[str, str]:
        """What the bench saw, by name, for reports: flash timelines, UDS transcripts, consoles."""
        found: dict[str, str] = {}
        for name, number, result in self.flash_results():
            found[f"{name} flash {number} ({result.version})"] = result.timeline.render()
        for name, monitor in self.monitors.items():
            found[f"UDS transcript {name}"] = monitor.render()
        if self.vehicle is not None and self.vehicle.changes:
            found["vehicle state set"] = self.vehicle.describe_changes()
        refusals = [f"{name}: {reasons}" for name, sim in self.sims.items() for reasons in sim.precondition_refusals]
        if refusals:
            found["programming preconditions refused"] = "\n".join(refusals)
        for name, console in self.consoles.items():
            if console.log_path.exists():
                found[f"console {name}"] = console.log_path.read_text(errors="replace")
        return found

    def write_traces(self, directory: Path, markers: Sequence[Marker] = ()) -> list[Path]:
        """The CAN traces recorded so far, ``can-<bus>.asc`` and ``.blf`` per bus, in ``directory``,
        with ``markers`` (epoch seconds, text: the fault injections) among the frames."""
        return [path for name, trace in self.traces.items()
                for path in trace.write(directory / f"can-{name}", markers)]

    def write_captures(self, directory: Path) -> list[Path]:
        """The TCP traffic of each DoIP relay so far (``relay_doip``), ``doip-<entity>.pcapng`` in
        ``directory``; the bench writes them to its workdir again when it closes."""
        return self.doip.write_captures(directory)

    def ecu_states(self) -> dict[str, str]:
        """What each ECU brought up reports about itself (``EcuDiagnostics.describe``)."""
        return {name: self.ecu(name).diagnostics.describe() for name in self.ecu_names}

    def faults(self) -> list[str]:
        """Simulator and gateway failures seen so far: bench faults, reported apart from ECU findings."""
        return ([f"virtual ECU {name}: {sim.fault!r}" for name, sim in self.sims.items() if sim.fault]
                + [f"gateway of bus {name}: {gw.fault!r}" for name, gw in self.gateways.items() if gw.fault]
                + ([f"rest-bus: {self.restbus.fault!r}"] if self.restbus and self.restbus.fault else [])
                + self.doip.faults())

    def host_overload(self) -> list[str]:
        """What the host's load did to the bench so far: answers of virtual ECUs made late because
        the simulator did not get the CPU (``bench.sim.answer_timing``), answers the tester's
        threads took too late (``BenchAwareConnection.missed_answers``), frames the CAN gateway
        forwarded late (``Gateway.late_hops``), DoIP messages the entities and relays passed on late
        (``DoipSide.late_hops``): each hop's ``bench.transport.hop_lag.HopLag``. A failure seen meanwhile may be the host's, not the ECU's."""
        return ([late.describe() for sim in self.sims.values() for late in sim.late_answers]
                + [f"ECU {handle.name}: {missed}" for handle in self._handles.values() if "link" in vars(handle)
                   for missed in handle.link.connection.missed_answers]
                + [text for gateway in self.gateways.values() for text in gateway.late_hops()]
                + self.doip.late_hops())

    def close(self) -> None:
        """Close everything, even after failures. Independent parts stop side by side: each
        waits for its threads, and those poll with timeouts."""
        errors: list[str] = []
        stops: list[tuple[str, Callable[[], None]]] = [
            *((f"console of {name}", console.close) for name, console in self.consoles.items()),
            *((f"monitor of bus {name}", monitor.stop) for name, monitor in self.monitors.items()),
            *(("tester link", link.close) for link in self._links),
            *((f"virtual ECU {name}", partial(sim.supply_changed, 0.0)) for name, sim in self.sims.items()),
            *((f"gateway of bus {name}", gateway.stop) for name, gateway in self.gateways.items()),
            *((("rest-bus", self.restbus.stop),) if self.restbus else ()),
            *self.doip.stops(),
            *((f"notifier of bus {name}", notifier.stop) for name, (_, notifier) in self._buses.items()),
        ]
        side_by_side(stops, errors)
        self.doip.finish(self.workdir, errors)
        for name, trace in self.traces.items():
            with collect(errors, f"trace of bus {name}"):
                trace.close()
        for port in self._console_ports.values():
            port.close()
        for name, supply in self.supplies.items():
            with collect(errors, f"supply {name}"):
                close_supply(supply)
        for name, hub in self.hubs.items():
            with collect(errors, f"SLCAN server of bus {name}"):
                hub.close()
        handles = [*((f"monitor of bus {name}", m.bus) for name, m in self.monitors.items()),
                   *(("gateway bus", side) for sides in self._gateway_sides for side in sides),
                   *((f"bus {name}", bus) for name, (bus, _) in self._buses.items()),
                   *((f"rest-bus on bus {name}", bus) for name, bus in self._restbus_buses.items())]
        for what, bus in handles:
            with collect(errors, what):
                bus.shutdown()
        self._links.clear()
        self._buses.clear()
        self.monitors.clear()
        self.consoles.clear()
        self._console_ports.clear()
        self.gateways.clear()
        self._gateway_sides.clear()
        self._restbus_buses.clear()
        self.restbus = None
        self.traces.clear()
        self.hubs.clear()
        if errors:
            raise BenchFault("bench did not close cleanly: " + "; ".join(errors))

