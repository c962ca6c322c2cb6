"""Campaign catalogs: vehicle-level scenarios (a whole campaign run by an update master on the
bench's ECUs, interrupted or refused), written as YAML and validated like ECU catalogs.

A campaign catalog is told apart from an ECU catalog by its top-level key ``vehicle_campaign``
(testcases/scenarios/campaign-power-loss.yaml is the commented example)::

    vehicle_campaign: campaign-power-loss   # required, [a-z0-9-]+; items: campaign-power-loss[<id>]
    description: Whole-vehicle power loss at every campaign phase
    tags: [campaign, power]                 # pytest markers
    requirements: [R156-7.2.2.1.1]          # as in ECU catalogs (testcases/requirements/)
    targets:                                # the campaign every scenario installs
      bcm: {from: ["1.0.0", app-1.0.0], to: ["1.1.0", app-1.1.0]}         # [version, recipe]
      eps: {from: ["1.0.0", eps-1.0.0.hex], to: ["2.0.0", eps-2.0.0.hex]} # or a software file
      bms: {from: ["1.0.0", app-1.0.0], to: ["1.1.0", app-1.1.0], after: [bcm, eps]}
    preconditions: {on_violation: suspend, resume_within: 2}   # the manifest's (optional)
    install: {retries: 1, retry_within: 10}                    # the manifest's (optional)
    vehicle: bus                            # the vehicle state on the bus (rest-bus, DBC signals), heard
                                            # by the master and the ECUs, or "object" (the master's
                                            # alone); default: bus when the bench file has restbus:
    scenarios:                              # each entry: one scenario per ``at`` listed
      - {fault: vehicle_power_loss, at: [accepted, "installed:bcm", "downloading:bms#3"]}
      - {fault: refused_package, ecu: bms, to: ["2.0.0", app-2.0.0-foreign], expect: rolled_back}

Faults (``fault``): ``vehicle_power_loss`` (every supply off and the master reset at ``at``, then
power back and a new master's ``recover()``); ``master_reset`` (the master alone, then
``recover()``); ``moving_vehicle`` (the vehicle drives off at ``at``; ``start``: before the
campaign; with ``parks_after: S`` it is parked again S seconds later, else never);
``bus_partition`` (the bus of the ECU the point names is cut for ``lasting`` seconds: the master
retries or rolls back as the catalog's ``install:`` policy says); ``refused_package`` (``ecu``
gets the package ``to`` instead, which it refuses or fails with); ``tampered_package`` (``ecu``'s
new package is changed after the manifest was signed). A timed fault may also take ``ecu`` and
``to``: that ECU gets the package ``to``, so the campaign rolls back and the fault can strike the
rollback (``at: "restored:eps"``). ``at``: ``start``, or a point the master journals
(``accepted``, ``installed:<ecu>``, ``confirmed``, ``committing:<ecu>`` (before that ECU's
``commit_bank``), ``committed``, ``restored:<ecu>``, ``suspended``, ``resumed``,
``retrying:<ecu>``) or ``downloading:<ecu>#N`` (after the Nth block of
that ECU's download). ``expect``: the outcomes allowed (``committed``, ``rolled_back``,
``refused``; default committed or rolled_back). Whatever the outcome, the campaign oracles
judge every scenario (bench.scenarios.campaign_runner). Every mistake is reported at once as
``file:line: key: message``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bench.config.loader import Problem, config_error, read_validated
from bench.config.yaml_source import nearest_line
from bench.image.builders import FIRMWARE_DIR
from bench.scenarios.requirements import RequirementCatalog
from bench.vehicle.campaign_files import SOFTWARE_DIR, SOFTWARE_SUFFIXES, TargetFiles
from bench.vehicle.manifest import Install, Preconditions

CATALOG_KEY = "vehicle_campaign"
Fault = Literal["vehicle_power_loss", "master_reset", "moving_vehicle", "bus_partition", "refused_package",
                "tampered_package"]
Outcome = Literal["committed", "rolled_back", "refused"]
VehicleSource = Literal["object", "bus"]
"""Where a scenario's vehicle state lives (``bench.scenarios.campaign_vehicle``)."""
TIMED: tuple[str, ...] = ("vehicle_power_loss", "master_reset", "moving_vehicle", "bus_partition")
"""Faults that strike at a point (``at``); the others change a package."""
_POINT = re.compile(r"start|accepted|confirmed|committed|suspended|resumed"
                    r"|(installed|committing|restored|retrying):(?P<ecu>[a-z0-9_]+)"
                    r"|downloading:(?P<dl>[a-z0-9_]+)#(?P<n>[1-9][0-9]*)")
_NAME = r"^[a-z0-9-]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TargetModel(_Strict):
    from_: tuple[str, str] = Field(alias="from")
    to: tuple[str, str]
    after: list[str] = []


class EntryModel(_Strict):
    fault: Fault
    at: str | list[str] = "start"
    ecu: str | None = None
    to: tuple[str, str] | None = None
    parks_after: float | None = Field(None, gt=0)
    """``moving_vehicle``: seconds until the vehicle is parked again (none: it never is)."""
    lasting: float | None = Field(None, gt=0)
    """``bus_partition``: seconds the bus stays cut."""
    expect: Outcome | list[Outcome] = ["committed", "rolled_back"]


class CampaignCatalogModel(_Strict):
    vehicle_campaign: str = Field(pattern=_NAME)
    description: str = ""
    tags: list[str] = []
    requirements: list[str] = []
    targets: dict[str, TargetModel] = Field(min_length=1)
    preconditions: Preconditions | None = None
    """The manifest's preconditions and policy (``bench.vehicle.manifest``); none: its defaults."""
    install: Install | None = None
    """The manifest's install policy (parallel, retries); none: its defaults."""
    vehicle: VehicleSource | None = None
    """Where the master reads the vehicle and the faults change it (``bench.scenarios.campaign_vehicle``);
    none: on the bus when the bench file has ``restbus:``, else the object."""
    scenarios: list[EntryModel] = Field(min_length=1)


@dataclass(frozen=True)
class CampaignScenario:
    campaign: str
    source: Path
    line: int
    fault: str
    at: str
    ecu: str
    """The ECU whose package the fault changes ("" for the others)."""
    targets: dict[str, TargetFiles]
    """The campaign installed, with the fault's package in it."""
    expect: tuple[str, ...]
    tags: tuple[str, ...]
    requirements: tuple[str, ...]
    parks_after: float | None = None
    """``moving_vehicle``: seconds the vehicle moves before it is parked again (None: never)."""
    preconditions: Preconditions | None = None
    """The manifest's preconditions and policy (None: the manifest's defaults)."""
    install: Install | None = None
    """The manifest's install policy (None: its defaults)."""
    lasting: float | None = None
    """``bus_partition``: seconds the bus of the ECU ``at`` names stays cut."""
    vehicle: VehicleSource | None = None
    """``bus``: the vehicle state on the bus (rest-bus, DBC signals); ``object``: a state the master
    reads; None: as the bench file says (``restbus:`` or not)."""

    @property
    def struck_ecu(self) -> str:
        """The ECU the point ``at`` names ("" for ``start``, ``accepted``...)."""
        match = _POINT.fullmatch(self.at)
        return (match and (match.group("ecu") or match.group("dl"))) or ""

    @property
    def id(self) -> str:
        """E.g. ``vehicle_power_loss@installed:bcm``, ``bms-refused_package-app-2.0.0-foreign``,
        ``vehicle_power_loss@restored:eps-bms-app-2.0.0-foreign``."""
        if self.fault in TIMED:
            return f"{self.fault}@{self.at}" + (f"-{self.ecu}-{self.targets[self.ecu].to[1]}" if self.ecu else "") \
                + (f"-parks-after-{self.parks_after:g}s" if self.parks_after else "") \
                + (f"-lasting-{self.lasting:g}s" if self.lasting else "")
        return f"{self.ecu}-{self.fault}" + (f"-{self.targets[self.ecu].to[1]}" if self.fault == "refused_package"
                                             else "")


_KEY_LINE = re.compile(rf"^{CATALOG_KEY}:", re.MULTILINE)


def is_campaign_catalog(path: Path) -> bool:
    """Whether the YAML file at ``path`` is a campaign catalog (its top level says ``vehicle_campaign:``)."""
    return _KEY_LINE.search(path.read_text(encoding="utf-8")) is not None


def ecu_catalogs(folder: Path) -> list[Path]:
    """The ECU catalogs among the YAML files of ``folder`` (campaign catalogs sit beside them)."""
    return [path for path in sorted(folder.glob("*.yaml")) if not is_campaign_catalog(path)]


def package_sources(root: Path) -> set[str]:
    """What a campaign catalog's package may name under the project ``root``: the firmware
    recipes (fixtures/firmware) and the software files (fixtures/software)."""
    recipes = {path.stem for path in (root / FIRMWARE_DIR).glob("*.yaml")}
    return recipes | {path.name for path in (root / SOFTWARE_DIR).iterdir() if path.suffix in SOFTWARE_SUFFIXES}


def load_campaign_catalog(path: Path, *, ecus: set[str], sources: set[str],
                          requirements: RequirementCatalog | None = None) -> list[CampaignScenario]:
    """The scenarios of the campaign catalog at ``path``; ``ecus``: the bench's ECUs; ``sources``:
    the firmware recipes and software files a package may name; ``requirements``, when given: the
    ids ``requirements:`` may name. ConfigError lists every problem."""
    catalog, source, locations = read_validated(path, CampaignCatalogModel, what="campaign catalog")
    problems: list[Problem] = []
    if requirements is not None:
        problems += [(("requirements", index), requirements.why_unknown(named))
                     for index, named in enumerate(catalog.requirements) if named not in requirements]
    for name, target in catalog.targets.items():
        if name not in ecus:
            problems.append((("targets", name), f"unknown ECU {name!r} (the bench has {', '.join(sorted(ecus))})"))
        for key, (_, package) in (("from", target.from_), ("to", target.to)):
            if package not in sources:
                problems.append((("targets", name, key), f"no firmware recipe or software file {package!r}"))
        problems += [(("targets", name, "after"), f"{other!r} is no target of the campaign")
                     for other in target.after if other not in catalog.targets]
    base = {name: TargetFiles(target.from_, target.to, tuple(target.after)) for name, target in catalog.targets.items()}
    scenarios: list[CampaignScenario] = []
    for index, entry in enumerate(catalog.scenarios):
        where = ("scenarios", index)
        problems += _entry_problems(entry, where, base, sources)
        targets = dict(base)
        if entry.ecu in targets and entry.to is not None:
            targets[entry.ecu] = TargetFiles(targets[entry.ecu].from_, entry.to, targets[entry.ecu].after)
        points = [entry.at] if isinstance(entry.at, str) else entry.at
        for at_index, at in enumerate(points if entry.fault in TIMED else ["start"]):
            at_path = (*where, "at") if isinstance(entry.at, str) else (*where, "at", at_index)
            match = _POINT.fullmatch(at)
            named = match and (match.group("ecu") or match.group("dl"))
            if match is None:
                problems.append((at_path, f"unknown point {at!r} (start, accepted, installed:<ecu>, "
                                          "downloading:<ecu>#N, confirmed, committing:<ecu>, committed, "
                                          "restored:<ecu>)"))
            elif at == "start" and entry.fault in ("vehicle_power_loss", "master_reset"):
                problems.append((at_path, f"{entry.fault} strikes at a point the master reaches, not at 'start'"))
            elif entry.fault == "bus_partition" and not named:
                problems.append((at_path, "bus_partition cuts the bus of the ECU its point names "
                                          "(downloading:<ecu>#N, installed:<ecu>...)"))
            elif named and named not in base:
                problems.append((at_path, f"{named!r} is no target of the campaign"))
            scenarios.append(CampaignScenario(
                catalog.vehicle_campaign, source, nearest_line(locations, at_path) or 1, entry.fault, at,
                entry.ecu or "", targets, (entry.expect,) if isinstance(entry.expect, str) else tuple(entry.expect),
                tuple(catalog.tags), tuple(catalog.requirements), entry.parks_after, catalog.preconditions,
                catalog.install, entry.lasting, catalog.vehicle))
    seen: dict[str, int] = {}
    for scenario in scenarios:
        if scenario.id in seen:
            problems.append((("scenarios",), f"duplicate scenario id {scenario.id!r} (lines {seen[scenario.id]} "
                                             f"and {scenario.line})"))
        seen.setdefault(scenario.id, scenario.line)
    if problems:
        raise config_error(problems, str(source), locations, what="campaign catalog")
    return scenarios


def _entry_problems(entry: EntryModel, where: tuple[str | int, ...], targets: dict[str, TargetFiles],
                    sources: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    if entry.parks_after is not None and entry.fault != "moving_vehicle":
        problems.append(((*where, "parks_after"), f"parks_after is for moving_vehicle, not {entry.fault}"))
    if (entry.lasting is not None) != (entry.fault == "bus_partition"):
        problems.append(((*where, "lasting") if entry.lasting is not None else where,
                         "bus_partition needs 'lasting' (seconds the bus stays cut)" if entry.lasting is None
                         else f"lasting is for bus_partition, not {entry.fault}"))
    if entry.fault in TIMED:
        if (entry.ecu is None) != (entry.to is None):
            problems.append((where, f"{entry.fault} takes 'ecu' and 'to' together (that ECU gets the package 'to', "
                                    "e.g. one it refuses, so the fault strikes the rollback) or neither"))
        elif entry.ecu is not None and entry.ecu not in targets:
            problems.append(((*where, "ecu"), f"{entry.ecu!r} is no target of the campaign"))
        elif entry.to is not None and entry.to[1] not in sources:
            problems.append(((*where, "to"), f"no firmware recipe or software file {entry.to[1]!r}"))
        return problems
    if entry.ecu is None or entry.ecu not in targets:
        problems.append(((*where, "ecu") if entry.ecu else where,
                         f"{entry.fault} needs 'ecu', one of the targets ({', '.join(targets)})"))
    if entry.fault == "refused_package" and entry.to is None:
        problems.append((where, "refused_package needs 'to': [version, recipe or software file] the ECU gets"))
    if entry.to is not None and entry.to[1] not in sources:
        problems.append(((*where, "to"), f"no firmware recipe or software file {entry.to[1]!r}"))
    if entry.fault == "tampered_package" and entry.to is not None:
        problems.append(((*where, "to"), "tampered_package changes the campaign's own package: it takes no 'to'"))
    return problems
