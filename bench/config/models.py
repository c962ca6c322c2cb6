"""Validated models of a bench file: buses, ECUs and their profiles, power, serial ports.

The YAML shape (see fixtures/benches/virtual.yaml for a complete example)::

    name: virtual-bench
    dbc: [dbc/virtual_vehicle.dbc]
    buses:
      powertrain: {interface: virtual, channel: pt, bitrate: 500000, fd: true, data_bitrate: 2000000}
    power:
      kl30: {driver: virtual}
    serial:
      bms_console: {url: "socket://127.0.0.1:7001", baudrate: 115200}
    profiles:
      ab-bootloader: {bootloader: ab, ...}          # EcuProfile (bench.config.profile_models)
    ecus:
      bms:
        bus: powertrain
        request_id: 0x7E0
        response_id: 0x7E8
        functional_id: 0x7DF
        power: kl30
        profile: ab-bootloader
        virtual: {...}                              # present only for simulated ECUs

Integers may be written in hex (``0x7E0``). Paths are relative to the bench file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from bench.config.doip_models import DoipConfig
from bench.config.power_models import PowerConfig
# the profile models were defined here; bench code, tests and users import them from this module too
from bench.config.profile_models import (BudgetedStep, DeltaSupport, DidIds, EcuProfile, LogicalBlock,  # noqa: F401
                                         MemoryLayout, RoutineIds, SecurityConfig, Timing)
from bench.config.strict import Strict

# strict: ``request_id: yes`` must not quietly become 1 (YAML 1.1 reads yes/on as true)
CanId = Annotated[int, Field(strict=True, ge=0, le=0x1FFFFFFF)]


class BusConfig(Strict):
    """One CAN bus, opened with python-can's ``can.Bus(interface=..., channel=...)``."""

    interface: str
    channel: str | int
    bitrate: int = Field(500_000, gt=0)
    fd: bool = False
    data_bitrate: int | None = Field(None, gt=0)
    options: dict[str, object] = Field(default_factory=dict)
    """Extra keyword arguments for the python-can interface (e.g. ``tty_baudrate`` for slcan)."""
    gateway: bool | None = None
    """Route tester <-> ECU traffic through the bench's CAN gateway (network faults).
    Default: on for virtual buses, off for real ones (which need ``ecu_channel``)."""
    ecu_channel: str | int | None = None
    """Real rigs: the second channel, on the ECUs' side of the gateway."""
    pace: bool = False
    """Virtual buses: frames take their time on the wire at ``bitrate`` (CAN FD data phase at
    ``data_bitrate``), so flash durations and timing faults behave as on a real bus."""
    trace: bool | None = None
    """Record the bus for each test's CAN trace (ASC/BLF). Default: on for virtual buses; on a
    real bus it takes a second handle of the adapter, which socketcan allows and a serial SLCAN
    adapter does not, so it is off unless set."""

    share: Literal["slcan"] | None = None
    """Virtual buses: serve this bus (its ECUs' side) to programs outside the bench, such as
    software-in-the-loop ECUs, as SLCAN over TCP on loopback; ``{slcan:BUS}`` in a ``process``
    supply's command is its URL (``bench.instruments.slcan_bridge``)."""

    @property
    def traced(self) -> bool:
        return self.interface == "virtual" if self.trace is None else self.trace

    @property
    def gatewayed(self) -> bool:
        return self.interface == "virtual" if self.gateway is None else self.gateway

    @model_validator(mode="after")
    def _pace_is_virtual(self) -> BusConfig:
        if self.pace and self.interface != "virtual":
            raise ValueError("pace: true applies to virtual buses only (a real bus keeps its own time)")
        return self

    @model_validator(mode="after")
    def _share_is_virtual(self) -> BusConfig:
        if self.share is not None and self.interface != "virtual":
            raise ValueError("share applies to virtual buses only (a program reaches a real bus through its own "
                             "adapter or socketcan)")
        if self.share is not None and self.fd:
            raise ValueError("share: slcan carries classic CAN only; this bus has fd: true")
        return self

    @model_validator(mode="after")
    def _gateway_needs_two_channels(self) -> BusConfig:
        if self.gateway and self.interface != "virtual" and self.ecu_channel is None:
            raise ValueError("gateway: true on a real bus needs ecu_channel (the ECUs' side of the bridge)")
        return self

    @field_validator("interface")
    @classmethod
    def _known_interface(cls, name: str) -> str:
        from can.interfaces import VALID_INTERFACES

        if name not in VALID_INTERFACES:
            raise ValueError(
                f"unknown python-can interface {name!r}; known: {', '.join(sorted(VALID_INTERFACES))}")
        return name


class SerialConfig(Strict):
    """A serial port, opened with ``serial.serial_for_url`` (any pyserial URL).

    ``url: pty`` is the console of a virtual ECU: the bench creates a pseudo-terminal that the
    simulated ECU writes its boot log to.
    """

    url: str
    baudrate: int = Field(115_200, gt=0)


class VirtualEcuConfig(Strict):
    """What only the simulator needs: flash geometry, factory image, simulated durations."""

    trusted_key: Path | None = None
    """The Ed25519 public key (PEM) the bootloader accepts images from (the bench's own
    bootloaders need it; a his bootloader checks CRCs, not signatures)."""
    factory_image: Path | None = None
    """Programmed at the factory, none means an empty ECU: a firmware recipe (YAML) for the
    bench's own bootloaders, a software file (Intel HEX) for a his one."""
    sector_size: int = Field(4096, gt=0)
    page_size: int = Field(256, gt=0)
    brown_out_below: float = Field(6.0, ge=0)
    """Supply voltage under which the ECU resets (loses RAM, as at power off)."""
    programming_voltage: tuple[float, float] = (9.0, 16.0)
    """Window in which the bootloader erases and programs; outside it answers 0x93/0x92."""
    erase_time_per_sector: float = Field(0.0, ge=0)
    program_time_per_page: float = Field(0.0, ge=0)
    status_message: str | None = None
    """Name of the DBC message sent cyclically in application mode."""
    mutant: str | None = None
    """A deliberately broken bootloader (a name of ``bench.config.registries.MUTANT_BOOTLOADERS``,
    made by ``bench.sim.mutants``) instead of the reference one: to prove a test campaign catches
    that defect. None: the reference bootloader. Checked when the file loads."""

    @model_validator(mode="after")
    def _geometry(self) -> VirtualEcuConfig:
        low, high = self.programming_voltage
        if not self.brown_out_below <= low < high:
            raise ValueError(f"programming_voltage {low}..{high} must lie above brown_out_below {self.brown_out_below}")
        if self.sector_size % self.page_size:
            raise ValueError(f"sector_size {self.sector_size} is not a multiple of page_size {self.page_size}")
        return self


class EcuConfig(Strict):
    bus: str | None = None
    """The CAN bus the ECU is on. None: an ECU on Ethernet (a zone controller, an HPC) that is itself
    the DoIP entity its ``via`` names, with no CAN behind it (no CAN identifiers either)."""
    request_id: CanId | None = None
    """Physical request and response CAN identifiers: required with a ``bus``, absent without."""
    response_id: CanId | None = None
    functional_id: CanId = 0x7DF
    extended_id: bool = False
    power: str | None = None
    profile: str
    console: str | None = None
    virtual: VirtualEcuConfig | None = None
    via: str | None = None
    """The DoIP entity (``doip.entities``) the tester reaches this ECU through; None: over its CAN bus."""


class RestBusConfig(Strict):
    """The rest-bus node (``bench.sim.restbus``): the vehicle state frames of the DBC
    (``VCU_VehicleState``, ``VCU_BatteryState``), sent cyclically on these buses; the virtual ECUs
    on them judge their programming preconditions from what they receive."""

    buses: list[str] = Field(min_length=1)


class BenchConfig(Strict):
    name: str
    dbc: list[Path] = Field(default_factory=list)
    buses: dict[str, BusConfig]
    power: dict[str, PowerConfig] = Field(default_factory=dict)
    serial: dict[str, SerialConfig] = Field(default_factory=dict)
    profiles: dict[str, EcuProfile] = Field(default_factory=dict)
    ecus: dict[str, EcuConfig]
    restbus: RestBusConfig | None = None
    """Send the vehicle state on the bus (none: no vehicle frames, ECUs check only their supply)."""
    doip: DoipConfig | None = None
    source: Path | None = Field(None, exclude=True)
    """The file this bench was read from (set by the loader)."""

    def with_network_margin(self, seconds: float) -> BenchConfig:
        """This bench with every profile's ΔP2 (``timing.network_margin``) set to ``seconds``:
        for a test that reads what a clean exchange looks like, on a host too loaded to keep the
        bench file's margin (a late answer would be retried and change what it reads)."""
        profiles = {name: profile.model_copy(update={"timing": profile.timing.model_copy(
                        update={"network_margin": seconds})})
                    for name, profile in self.profiles.items()}
        return self.model_copy(update={"profiles": profiles})
