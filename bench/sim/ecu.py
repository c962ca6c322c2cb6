"""A virtual ECU: flash and EEPROM on disk, a UDS server on can-isotp (or behind the DoIP entity it
is, ``bench.sim.ports``), powered by a supply.

Everything in RAM lives in one ``_PoweredRun`` per power-on. Power off ends it: transmissions
stop at once, the run's threads end, and only what was written to flash or EEPROM remains. A
reset (ECUReset, leaving the programming session) rebuilds the server from EEPROM the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cantools

from bench.config.models import BusConfig, EcuConfig, EcuProfile
from bench.dids import BootMode
from bench.errors import BenchFault
from bench.monitor.vehicle_listener import VehicleListener
from bench.monitor.vehicle_signals import VehicleSignals, Violation
from bench.sim.answer_timing import AnswerClock, LateAnswer
from bench.sim.console_port import ConsolePort
from bench.sim.dialect import dialect_of
from bench.sim.factory_nvm import factory_nvm
from bench.sim.isotp_server import make_ecu_stack
from bench.sim.mutants import bootloader_for
from bench.sim.nvm import Eeprom, FlashMemory, PowerLost
from bench.sim.pending import ResponsePending
from bench.sim.ports import DoipNode, Ports
from bench.sim.probes import Probes
from bench.sim.request_tap import RequestTap
from bench.sim.security import KeyFunction, SecurityAccess
from bench.sim.server import EcuCore
from bench.sim.status_frame import StatusFrame
from bench.transport.can_bus import open_bus, open_notifier
from bench.transport.isotp_link import address

log = logging.getLogger(__name__)

FUNCTIONAL_CATCH_UP = 1.0
"""Seconds the ECU waits for its functional stack to deliver a request that arrived before the
physical one it has taken (ISO-TP's N_Cr: any stack has delivered by then)."""


class VirtualEcu:
    def __init__(self, name: str, config: EcuConfig, profile: EcuProfile, bus_config: BusConfig | None, *,
                 channel: str | int | None, nvm_dir: Path, key_function: KeyFunction, trusted_key,
                 factory_image: object | None = None,
                 status_message: cantools.database.can.Message | None = None,
                 vehicle_signals: VehicleSignals | None = None, node: DoipNode | None = None) -> None:
        assert config.virtual is not None, f"ECU {name} has no virtual: section"
        self.name = name
        self.config = config
        self.profile = profile
        self.bus_config = bus_config
        self.channel = channel
        self.key_function = key_function
        self.trusted_key = trusted_key
        self.status_message = status_message
        self.vehicle_signals = vehicle_signals
        """The vehicle messages the ECU hears on its bus (a rest-bus runs there) and judges its
        programming preconditions by; None: it checks only its supply."""
        self.node = node
        """Set for an ECU on Ethernet that is itself a DoIP entity: requests come from that entity in
        this process, not over CAN (then ``bus_config`` and ``channel`` are None)."""
        self.probes = Probes()
        self.requests = RequestTap()
        """Told of each complete request before the ECU acts on it, and of each final answer."""
        self.dialect = dialect_of(profile.bootloader)
        """What the profile's ``bootloader`` names: layout, record, server (``bench.sim.dialect``)."""
        self.bootloader = bootloader_for(config.virtual.mutant, profile.bootloader)
        """Boot and download classes: the reference bootloader, or the mutant the config names."""
        self.layout = self.dialect.layout(profile, config.virtual.sector_size)
        self.flash_path = nvm_dir / f"{name}.flash"
        self.eeprom_path = nvm_dir / f"{name}.eeprom"
        self.console: ConsolePort | None = None
        """The debug UART, when the bench gives this ECU one (``console:`` with url ``pty``)."""
        self.fault: BaseException | None = None
        """An exception that killed the simulator (a bench fault, never an ECU finding)."""
        self.precondition_refusals: list[str] = []
        """The reasons of every programming precondition check the vehicle state failed, across
        power-ons: the evidence of why the ECU refused."""
        self.late_answers: list[LateAnswer] = []
        """Answers the host made late: the simulator did not get the CPU (``bench.sim.answer_timing``)."""
        self._run: _PoweredRun | None = None
        self._voltage = 0.0
        self.power_listeners: list[Callable[[bool], None]] = []
        """Told when the ECU gains power (before it runs) and loses it (after it stopped)."""
        self._lock = threading.Lock()
        nvm_dir.mkdir(parents=True, exist_ok=True)
        if factory_image is not None and not self.flash_path.exists():
            self._factory_program(factory_image)

    def open_flash(self, power_lost: threading.Event) -> FlashMemory:
        v = self.config.virtual
        assert v is not None
        return FlashMemory(self.flash_path, self.layout.flash_size, v.sector_size, v.page_size,
                           power_lost=power_lost, probe=self.probes,
                           erase_time_per_sector=v.erase_time_per_sector,
                           program_time_per_page=v.program_time_per_page)

    def _factory_program(self, software: object) -> None:
        """End-of-line programming, as the dialect does it (``SimDialect.factory_program``): the
        bytes the first ECU of this kind got in this process (``bench.sim.factory_nvm``)."""
        v = self.config.virtual
        assert v is not None
        try:
            hash(software)
        except TypeError:  # software that cannot be a key (a loaded software file): programmed each time
            key = None
        else:
            key = (self.dialect, self.profile.model_dump_json(), v.sector_size, v.page_size, software)
        factory_nvm(key, self.flash_path, self.eeprom_path, partial(self._program_factory, software))

    def _program_factory(self, software: object) -> None:
        never = threading.Event()
        flash = self.open_flash(never)
        try:
            self.dialect.factory_program(flash, self.open_store(never), self.layout, software)
        finally:
            flash.close()

    def open_store(self, power_lost: threading.Event):  # noqa: ANN201 - the dialect's record store
        return self.dialect.store(Eeprom(self.eeprom_path, power_lost=power_lost), self.layout)

    def anti_rollback_counter(self) -> int | None:
        """The anti-rollback counter as the EEPROM holds it now (read from outside the ECU, powered
        or not); None when the dialect models no counter."""
        if self.dialect.anti_rollback is None:
            return None
        return self.dialect.anti_rollback(self.open_store(threading.Event()).record)

    # -- power ---------------------------------------------------------------------------

    @property
    def powered(self) -> bool:
        return self._run is not None

    @property
    def voltage(self) -> float:
        return self._voltage

    def supply_changed(self, volts: float) -> None:
        """Listener for ``VirtualSupply.attach``: below the brown-out threshold the ECU resets
        (loses power); above it, it runs, and programming checks the voltage window."""
        self._voltage = volts
        self._power(volts >= self.config.virtual.brown_out_below)

    def _power(self, on: bool) -> None:
        with self._lock:
            if on and self._run is None:
                for listener in self.power_listeners:  # before the ECU can say anything
                    listener(True)
                self._run = _PoweredRun(self)
                self._run.start()
            elif not on and self._run is not None:
                run, self._run = self._run, None
                run.power_off()
                for listener in self.power_listeners:  # once it can say nothing more
                    listener(False)

    def log(self, line: str) -> None:
        """A line on the ECU's debug UART (dropped when it has none)."""
        if self.console is not None:
            self.console.write_line(line)

    def download_base_index(self, point: str) -> int:
        """Absolute index of the first page (``program_page*``) or sector (``erase_sector*``) of
        the bank the next download goes to, as the running bootloader would choose it."""
        core = self.core()
        if core is None:
            raise BenchFault(f"virtual ECU {self.name} is not powered: no bank to download to")
        v = self.config.virtual
        assert v is not None
        unit = v.page_size if point.startswith("program_page") else v.sector_size
        return self.layout.offset(core.boot.target_bank()) // unit

    def core(self) -> EcuCore | None:
        """The server of the current power-on (for white-box checks in tests), if powered."""
        run = self._run
        return run.core if run else None


def _can_ports(ecu: VirtualEcu) -> Ports:
    """The ECU's physical and functional ISO-TP stacks on its own handle of its CAN bus."""
    assert ecu.bus_config is not None and ecu.config.bus is not None  # an ECU on CAN (the loader checked)
    bus = open_bus(ecu.config.bus, ecu.bus_config, channel=ecu.channel)
    notifier = open_notifier(bus)
    frame = max(ecu.profile.max_block_length, 4095)
    timing = ecu.profile.timing
    physical = make_ecu_stack(bus, notifier, address(ecu.config, server=True), ecu.bus_config, functional=False,
                              max_frame_size=frame, timing=timing)
    functional = make_ecu_stack(bus, notifier, address(ecu.config, server=True, functional=True), ecu.bus_config,
                                functional=True, max_frame_size=frame, timing=timing)
    return Ports(physical, functional, can=(bus, notifier))


class _PoweredRun:
    """One power-on of the ECU: transport, threads and RAM state."""

    def __init__(self, ecu: VirtualEcu) -> None:
        self.ecu = ecu
        self.power_lost = threading.Event()
        self.core: EcuCore | None = None
        self._booted = threading.Event()
        """Set once the bootloader has decided what runs (or the run ended): power-on returns then."""
        self._thread = threading.Thread(target=self._main, name=f"sim-{ecu.name}", daemon=True)
        self._ports = ecu.node.open() if ecu.node is not None else _can_ports(ecu)
        self._physical, self._functional = self._ports.physical, self._ports.functional
        timing = ecu.profile.timing
        self._status = StatusFrame(ecu.status_message) if ecu.status_message and self._ports.can else None
        self.vehicle = VehicleListener(ecu.vehicle_signals) if ecu.vehicle_signals and self._ports.can else None
        """What this power-on has heard of the vehicle state (RAM: gone at power off)."""
        if self.vehicle is not None and self._ports.can is not None:
            self._ports.can[1].add_listener(self.vehicle)
        self._stacks_lock = threading.Lock()
        self._stacks_running = False
        self._deferred: tuple[bytes, bool, float] | None = None
        """A physical request taken before a functional one that had arrived first."""
        self._functional_taken = 0.0
        """When the last functional request taken had arrived."""
        self._pending = ResponsePending(self._send, first_after=timing.p2 / 2, every=timing.p2_star / 2)
        self._answers = AnswerClock(ecu.name, first_within=timing.p2 / 2, pending_every=timing.p2_star / 2,
                                    deadline=timing.p2 + timing.network_margin,
                                    deadline_after_pending=timing.p2_star + timing.network_margin,
                                    late=ecu.late_answers.append)
        self._physical.answer_sent = self._answers.answered

    def start(self) -> None:
        self._physical.start()
        self._functional.start()
        self._stacks_running = True
        self._thread.start()
        if not self._booted.wait(5.0):
            raise BenchFault(f"virtual ECU {self.ecu.name}: no boot decision 5 s after power on")

    def power_off(self) -> None:
        self.power_lost.set()
        self._silence()
        if threading.current_thread() is not self._thread:
            self._thread.join(5.0)
            if self._thread.is_alive():
                raise BenchFault(f"virtual ECU {self.ecu.name}: simulator thread did not stop at power off")

    def _silence(self) -> None:
        """Stop both ISO-TP stacks (idempotent): nothing leaves the ECU once power is gone."""
        with self._stacks_lock:
            if self._stacks_running:
                self._stacks_running = False
                self._physical.stop()
                self._functional.stop()

    def _send(self, payload: bytes) -> None:
        if not self.power_lost.is_set():
            self._answers.handed(payload)
            self._physical.send(payload)

    def _boot(self) -> EcuCore:
        ecu = self.ecu
        flash = self._flash
        store = ecu.open_store(self.power_lost)
        bootloader = ecu.bootloader  # the reference classes, or a mutant's (bench.sim.mutants)
        boot = bootloader.boot(ecu.profile, ecu.layout, flash, store, ecu.trusted_key, ecu.probes, log=ecu.log)
        download = bootloader.download(ecu.profile, ecu.layout, flash, store, boot)
        security = SecurityAccess(ecu.profile.security, ecu.key_function, store, clock=time.monotonic)
        core = ecu.dialect.core(ecu.name, ecu.profile, store, boot, download, security,
                       voltage=lambda: ecu.voltage, programming_voltage=ecu.config.virtual.programming_voltage,
                       vehicle_violations=self._vehicle_violations)
        boot.start()
        self.core = core
        return core

    def _vehicle_violations(self) -> list[Violation]:
        """What the vehicle state heard breaks of the update conditions; each refusal is kept on
        the ECU and written to its console."""
        reasons = self.vehicle.violations() if self.vehicle is not None else []
        if reasons:
            words = "; ".join(map(str, reasons))
            self.ecu.precondition_refusals.append(words)
            self.ecu.log(f"programming preconditions not met: {words}")
        return reasons

    def _main(self) -> None:
        mutant = self.ecu.config.virtual.mutant
        self.ecu.log(f"power on ({self.ecu.voltage:.1f} V): bootloader {self.ecu.profile.bootloader}"
                     + (f" (mutant {mutant})" if mutant else ""))
        self._flash = self.ecu.open_flash(self.power_lost)
        try:
            core = self._boot()
            self._booted.set()
            while not self.power_lost.is_set():
                if core.boot.hung:  # only a mutant bootloader hangs: silent until power off
                    self._silence()
                    self.power_lost.wait()
                    break
                if core.s3_expired() and core.leave_session():
                    core = self._boot()
                request = self._next_request()
                if self._status and self._ports.can and core.boot.running.mode == BootMode.APPLICATION \
                        and core.normal_tx_enabled:
                    self._status.send_if_due(self._ports.can[0], core.boot.running)
                if request is None:
                    continue
                payload, functional, received_at = request
                self.ecu.requests.request(payload, functional)  # a listener may cut the power
                if self.power_lost.is_set():
                    break
                self._answers.request(payload[0], received_at)
                late = self.ecu.bootloader.answer_delay(payload)
                if late:  # a mutant's deliberate delay, with no response pending
                    self._answers.intend(late)
                    if self.power_lost.wait(late):
                        break
                else:
                    self._pending.begin(payload[0])
                reply = core.handle(payload, functional=functional)
                answer = self._pending.finish(reply.response, reply.withheld)
                if answer is not None and not self.power_lost.is_set():
                    self.ecu.requests.answered(answer)
                core.last_request = time.monotonic()  # ISO 14229-2: S3server restarts once the request is done
                if reply.reset_after and not self.power_lost.is_set():
                    core = self._boot()
        except PowerLost:
            pass
        except Exception as exc:  # a simulator bug: keep it for the bench to report, never hide it
            if not self.power_lost.is_set():
                log.exception("virtual ECU %s crashed", self.ecu.name)
                self.ecu.fault = exc
        finally:
            self._booted.set()
            self._pending.close()
            self._flash.close()
            self._silence()
            self._ports.close()

    def _next_request(self) -> tuple[bytes, bool, float] | None:
        """A request, whether it came functionally, and when its last frame arrived.

        A functional request (a single frame) that reached the ECU before a physical one is
        served first, as on an ECU with one receive path, even when its stack's thread has not
        got the CPU yet (a loaded host): the tester's pre-programming sequence (``10 83``...,
        then ``10 02``) relies on that order."""
        if self._deferred is not None:
            request, self._deferred = self._deferred, None
            return request
        functional = self._take_functional(block=False)
        if functional is not None:
            return functional
        physical = self._physical.recv(block=True, timeout=0.01)
        if physical is None:
            return None
        request = bytes(physical), False, self._physical.last_frame_at
        if self._functional_taken < self._functional.last_frame_at < request[2]:
            earlier = self._take_functional(block=True)
            if earlier is not None:
                self._deferred = request
                return earlier
        return request

    def _take_functional(self, *, block: bool) -> tuple[bytes, bool, float] | None:
        functional = self._functional.recv(block=block, timeout=FUNCTIONAL_CATCH_UP if block else None)
        if functional is None:
            return None
        self._functional_taken = self._functional.last_frame_at
        return bytes(functional), True, self._functional_taken
