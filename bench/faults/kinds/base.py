"""What every fault kind declares: its parameters with their defaults, where it may strike, its
severity, and how it arms on an injector.

A kind is one class in one module of this package, named in ``bench.faults.kinds.BUILTIN`` (or
in an entry point of a lab's package). Its
``Params`` is a pydantic model: the fields, their defaults and bounds are what a catalog's
``params`` section accepts for that kind, and what the runner uses where the catalog is silent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from bench.faults.injector import Arming, Injection
    from bench.rig import EcuHandle

Severity = Literal["critical", "normal"]

BUS_POINTS = ("session", "security", "erase", "first_block", "middle_block", "last_block", "transfer_exit",
              "check", "reset", "block", "offset", "random_block", "preconditions", "fingerprint",
              "request_download", "check_block")
"""Classes of trigger points (``block:3`` is of class ``block``) at which the tester is using the
bus: where a fault that acts on frames can strike."""


def point_class(at: str) -> str:
    """``block:3`` and ``block:3@1`` are of class ``block``, ``erase@1`` of class ``erase``."""
    return at.partition("@")[0].partition(":")[0]


class FaultParams(BaseModel):
    """A kind's parameters; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class FaultKind(ABC):
    name: ClassVar[str]
    """As catalogs write it (``fault: power_cut``); also the ``fault`` and ``story`` report labels."""
    summary: ClassVar[str]
    """One line for the catalog documentation."""
    severity: ClassVar[Severity] = "normal"
    """Allure severity of its scenarios: ``critical`` for what a vehicle sees at every weak battery."""
    on_bus: ClassVar[bool] = False
    """It acts on frames: the scenario needs the CAN gateway, and strikes only at ``BUS_POINTS``."""
    seeded: ClassVar[bool] = False
    """Its effect depends on the scenario's seed: the seed is always in the scenario id."""
    transport: ClassVar[str | None] = None
    """The transport its scenarios need (``doip``: it acts on the tester's TCP connection or the DoIP
    gateway, so a catalog case of another transport is a mistake); None: any."""
    Params: ClassVar[type[FaultParams]] = FaultParams

    @property
    def trigger_points(self) -> tuple[str, ...] | None:
        """The classes of trigger points it may strike at; None: anywhere. A kind that acts on the
        bus or on the DoIP connection strikes only while the tester is using it."""
        return BUS_POINTS if self.on_bus or self.transport == "doip" else None

    def allows(self, at: str) -> bool:
        points = self.trigger_points
        return points is None or point_class(at) in points

    def settings(self, written: Mapping[str, Any]) -> FaultParams:
        """The parameters a scenario runs with: what was written over the declared defaults."""
        return self.Params.model_validate(dict(written))

    def settle_time(self, params: FaultParams) -> float:
        """Seconds after it fires during which the fault still plays out on its own (a series
        of dropouts); the runner waits that long before it restores the bench."""
        return 0.0

    def defaults(self) -> dict[str, Any]:
        return self.Params().model_dump()

    @abstractmethod
    def arm(self, when: Arming, ecu: EcuHandle, params: FaultParams, seed: int) -> Injection:
        """Bind this fault, with ``params``, to the trigger of ``when`` for ``ecu``."""
