"""One ECU of a bench as a test sees it (``EcuHandle``), and what the test did with it (``EcuReads``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from bench.config.models import EcuConfig, EcuProfile
from bench.errors import BenchFault
from bench.flash import EcuDiagnostics, Flasher, FlashResult
from bench.flash.progress_record import ProgressRecord
from bench.power import PowerSupply
from bench.sim.ecu import VirtualEcu
from bench.transport.doip_link import DoipLink
from bench.transport.uds_client import TesterLink


@dataclass(frozen=True)
class EcuReads:
    """What a test did with one ECU through its handle, for the report."""

    versions: frozenset[str]
    """Application versions the ECU reported (the test's reads and the flasher's read-backs)."""
    flashes: tuple[FlashResult, ...]
    """Every flash attempt, failed ones included, in order."""


@dataclass
class EcuHandle:
    """One ECU of the bench as a test sees it: config, power, tester link, flasher, simulator.

    The tester link, the diagnostics and the flasher are opened on first use; the flasher reads
    through the handle's diagnostics, so one object holds every read. ``reads()`` says what the
    test did with the ECU.
    """

    name: str
    config: EcuConfig
    profile: EcuProfile
    power: PowerSupply | None
    sim: VirtualEcu | None
    _open_link: Callable[[EcuHandle], TesterLink | DoipLink] = field(repr=False)
    progress_record: Path | None = None
    """The file of the flasher's progress record (``bench.flash.progress_record``): a flash of software
    files resumed in a later process starts at the block the last one stopped in. None: no record; a
    flasher resumes only its own attempts."""
    _diagnostics: EcuDiagnostics | None = field(default=None, init=False, repr=False)
    _flasher: Flasher | None = field(default=None, init=False, repr=False)

    @cached_property
    def link(self) -> TesterLink | DoipLink:
        return self._open_link(self)

    @property
    def uds(self):  # noqa: ANN201 - udsoncan Client
        return self.link.client

    @property
    def diagnostics(self) -> EcuDiagnostics:
        if self._diagnostics is None:
            self._diagnostics = EcuDiagnostics(self.link.client, self.profile)
        return self._diagnostics

    @property
    def flasher(self) -> Flasher:
        if self._flasher is None:
            record = ProgressRecord(self.progress_record) if self.progress_record else None
            self._flasher = Flasher(self.name, self.link, self.profile, diagnostics=self.diagnostics, record=record)
        return self._flasher

    def unpowered(self) -> str | None:
        """``the ECU is unpowered: ...`` when its supply is off, the hint a silent ECU's error
        needs (a test that cut power and did not restore it); None when powered, without a
        supply, or when the supply cannot say (that fault is the supply's to report)."""
        if self.power is None:
            return None
        try:
            powered = self.power.is_on()
        except BenchFault:  # a supply that does not answer says nothing about the ECU
            return None
        if powered:
            return None
        return (f"the ECU is unpowered: {self.name}'s supply {self.power.name!r} is off, so it cannot answer "
                "(switch it on again after a cut, e.g. power.on())")

    def reads(self) -> EcuReads:
        """The versions read and the flash attempts so far; opens nothing the test did not use."""
        return EcuReads(versions=frozenset(self._diagnostics.versions_read if self._diagnostics else ()),
                        flashes=tuple(self._flasher.results if self._flasher else ()))
