"""Scenario catalogs: campaigns of OTA fault scenarios written as YAML, validated and expanded.

A catalog (``testcases/scenarios/*.yaml``; power-loss.yaml is the commented example)::

    campaign: power-loss                 # required, [a-z0-9-]+
    description: Power cut at every flashing phase
    tags: [power, nightly]               # pytest markers
    defaults: {from: factory, to: app-2.0.0, package: full, interruptions: 1, seed: 0}
    matrix:                              # cartesian product of every list (a scalar = a one-item list)
      ecu: [bcm, bms]
      fault: [power_cut, brown_out]
      at: [session, erase, "block:3", middle_block, last_block, "page:77", confirm]
      interruptions: [1, 2]
    params: {power_cut: {off_for: 0.05}, brown_out: {volts: 5.0, lasting: 0.2}}   # per fault kind
    exclude: [{ecu: bcm, at: confirm}]   # drop every combination matching ALL keys given
    include: [{ecu: bcm, fault: power_cut, at: ["block:16", "block:17"]}]   # add (or extend) cases
    overrides: [{when: {fault: brown_out, at: erase}, set: {params: {volts: 4.0}}}]   # per-case changes
    expect: {bricked: never, outcome: updated, versions: [old, new], max_resent_blocks: 1}

Fault kinds (``fault``; ``bench.faults.kinds``, one module each) and the defaults of their
``params`` (seconds, volts, a ratio 0..1, counts), used where a catalog does not set them:
``power_cut`` (off_for: 0.05), ``brown_out`` (volts: 5.0, lasting: 0.2), ``intermittent_supply``
(dropouts: 3, off_for: 0.01, period: 0.1) strike anywhere; ``frame_loss`` (ratio: 0.02, lasting:
0.5), ``delay`` (seconds: 0.01, lasting: 0.5), ``corruption`` (count: 1), ``partition``
(lasting: 0.5) and ``bus_off`` (lasting: 0.5) act on the bus through the CAN gateway.

Scenario keys (in ``matrix``, ``defaults``, ``exclude``, ``include``, ``when``): ``ecu``, ``fault``,
``at``, ``interruptions`` (1, or 2: the fault strikes the resumed attempt too),
``seed``, ``package`` (``full``, or ``delta``: a delta package from ``from`` to ``to``, for ECUs
whose profile takes them), ``from`` / ``to`` (recipes under fixtures/firmware; ``from: factory``:
the ECU's factory image; built-in defaults: factory, full, 1, 0).
bench/scenarios/expand.py says exactly how exclude, include and overrides combine.

``at``: a phase (PHASES); ``block:N`` (Nth TransferData, N >= 1); ``offset:N`` (the block carrying
download byte N, N may be hex); ``page:N`` / ``sector:N`` (virtual ECUs: mid-program of page N /
mid-erase of sector N of the download); ``random_block`` (chosen by the seed); ``patch_step:N``
(delta packages on virtual ECUs: the Nth step of applying the patch, from 0). Power faults
strike anywhere; network faults only while the bus is in use (``FaultKind.trigger_points``).

``expect`` (over the ``Expectations`` defaults): ``bricked: never``; ``outcome`` after the
runner's recovery attempt; ``versions`` allowed right after the interruption (``bootloader``:
single-bank only); ``max_resent_blocks`` (null: not checked); ``nvm_consistent``. Every
mistake is reported at once, in one ConfigError listing ``file:line: key: message``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from bench.config.loader import Problem, config_error, unknown_key_message
from bench.config.yaml_source import YamlPath, nearest_line, read_yaml
from bench.errors import ConfigError
from bench.faults.kinds import fault_kind, kind_names
from bench.scenarios.expand import Case, expand, valid_tags

FAULT_KINDS = kind_names()
PHASES = ("session", "security", "erase", "first_block", "middle_block", "last_block", "transfer_exit",
          "check", "reset", "boot", "confirm")
PACKAGES = ("full", "delta")
DIMENSIONS = ("ecu", "package", "fault", "at", "interruptions", "seed", "from", "to")
BUILTIN_DEFAULTS: dict[str, Any] = {"from": "factory", "package": "full", "interruptions": 1, "seed": 0}
TOP_KEYS = ("campaign", "description", "tags", "defaults", "matrix", "params", "exclude", "include",
            "overrides", "expect")
EXPECT_KEYS = ("bricked", "outcome", "versions", "max_resent_blocks", "nvm_consistent")
OUTCOMES = ("updated", "rolled_back", "unchanged")
VERSION_STATES = ("old", "new", "bootloader")


@dataclass(frozen=True)
class Expectations:
    bricked: Literal["never"] = "never"
    outcome: Literal["updated", "rolled_back", "unchanged"] = "updated"
    versions: tuple[str, ...] = ("old", "new")
    max_resent_blocks: int | None = 1
    nvm_consistent: bool = True


@dataclass(frozen=True)
class Scenario:
    campaign: str
    source: Path
    line: int
    ecu: str
    fault: str
    at: str
    interruptions: int
    seed: int
    package: str
    from_image: str
    to_image: str
    params: Mapping[str, float | int | str] = field(hash=False)
    expect: Expectations
    tags: tuple[str, ...]
    seed_in_id: bool = False  # the catalog has this case with several seeds: the id shows which
    images_in_id: bool = False  # ... or with several updates (from -> to): the id shows which

    @property
    def id(self) -> str:
        """Stable and readable, e.g. ``bms-full-power_cut@block:37``, ``bcm-full-frame_loss@erase-s3``,
        ``bms-full-power_cut@check-factory-to-app-0.9.0-downgrade``."""
        text = f"{self.ecu}-{self.package}-{self.fault}@{self.at}" + ("-x2" if self.interruptions == 2 else "")
        if self.images_in_id:
            text += f"-{self.from_image}-to-{self.to_image}"
        if self.seed_in_id or self.at == "random_block" or fault_kind(self.fault).seeded:
            text += f"-s{self.seed}"
        return text


def parse_at(value: Any) -> str:
    """A trigger point in its normal form (``block:03`` → ``block:3``, ``offset:32768`` → ``offset:0x8000``)."""
    if isinstance(value, Mapping) and len(value) == 1:  # [block: 3] is a mapping to YAML
        raise ValueError('write a trigger point as one quoted string: "{}:{}"'.format(*next(iter(value.items()))))
    if not isinstance(value, str):
        raise ValueError(f"a trigger point is a string such as 'erase' or 'block:3', got {value!r}")
    text = value.strip()
    if text in PHASES or text == "random_block":
        return text
    kind, sep, number = text.partition(":")
    if sep and kind in ("block", "offset", "page", "sector", "patch_step"):
        number = number.strip()
        try:
            n = int(number, 16) if number.lower().startswith("0x") else int(number, 10)
        except ValueError:
            raise ValueError(f"trigger point {value!r}: {number!r} is not a number") from None
        if n < (1 if kind == "block" else 0):
            raise ValueError(f"trigger point {value!r}: {kind} numbers start at {1 if kind == 'block' else 0}")
        return f"offset:{n:#x}" if kind == "offset" else f"{kind}:{n}"
    close = difflib.get_close_matches(text, [*PHASES, "random_block"], n=1)
    raise ValueError(f"unknown trigger point {value!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                     + f" (a phase: {', '.join(PHASES)}; or block:N, offset:N, page:N, sector:N, random_block, "
                       "patch_step:N)")


def load_catalog(path: Path, *, ecus: Mapping[str, str], firmware: Collection[str] | None = None,
                 delta_ecus: Collection[str] | None = None) -> list[Scenario]:
    """The scenarios of the catalog at ``path``; ``ecus``: bench ECU → ``single_bank`` | ``ab``;
    ``firmware``, when given: the recipe names ``from``/``to`` may use; ``delta_ecus``, when given:
    the ECUs that take delta packages. ConfigError lists every problem."""
    source = Path(path).expanduser().resolve()
    data, locations = read_yaml(source, display=str(source))
    if not isinstance(data, dict):
        raise ConfigError("a scenario catalog is a mapping with 'campaign' and 'matrix' or 'include'",
                          file=str(source), line=locations.get((), 1))
    problems: list[Problem] = []
    campaign, tags, params = _header(data, problems)
    cases = expand(data, dimensions=DIMENSIONS, builtin=BUILTIN_DEFAULTS, problems=problems,
                   normalise=lambda key, value: _normalise(key, value, ecus, firmware))
    base_expect = data.get("expect") or {}
    if not isinstance(base_expect, Mapping):
        problems.append((("expect",), "'expect' is a mapping of expectations"))
        base_expect = {}
    for key, value in base_expect.items():
        _expectation(key, value, ("expect", key), problems)  # here too, in case nothing expands
    built = [(case, scenario) for case in cases if (scenario := _scenario(
        case, campaign, source, nearest_line(locations, case.source) or 1, tags, params, base_expect, ecus, delta_ecus,
        problems))]
    scenarios: list[Scenario] = []
    made: dict[str, int] = {}
    for (case, _), scenario in zip(built, _disambiguate([scenario for _, scenario in built]), strict=True):
        if scenario.id in made:
            problems.append((case.source, f"duplicate scenario id {scenario.id!r}: made on line {made[scenario.id]} "
                                          f"and again on line {scenario.line}"))
            continue
        made[scenario.id] = scenario.line
        scenarios.append(scenario)
    if not scenarios and not problems:
        problems.append((("matrix",) if "matrix" in data else (), "the catalog expands to no scenario"))
    if problems:
        unique = list(dict.fromkeys(problems))
        unique.sort(key=lambda problem: nearest_line(locations, problem[0]) or 0)
        raise config_error(unique, str(source), locations, what="scenario catalog")
    return scenarios


def _disambiguate(scenarios: list[Scenario]) -> list[Scenario]:
    """Show the update (from -> to), then the seed, in the ids of the cases the catalog lists
    with several of them."""
    updates: dict[str, set[tuple[str, str]]] = {}
    for scenario in scenarios:
        updates.setdefault(scenario.id, set()).add((scenario.from_image, scenario.to_image))
    scenarios = [replace(scenario, images_in_id=len(updates[scenario.id]) > 1) for scenario in scenarios]
    seeds: dict[str, set[int]] = {}
    for scenario in scenarios:
        seeds.setdefault(scenario.id, set()).add(scenario.seed)
    return [replace(scenario, seed_in_id=len(seeds[scenario.id]) > 1) for scenario in scenarios]


def _normalise(key: str, value: Any, ecus: Mapping[str, str], firmware: Collection[str] | None) -> Any:
    if key == "at":
        return parse_at(value)
    if key in ("interruptions", "seed"):
        if isinstance(value, bool) or not isinstance(value, int) or value not in ((1, 2) if key == "interruptions"
                                                                                  else range(value + 1)):
            raise ValueError(("interruptions is 1 or 2 (2: the fault strikes the resumed attempt too)"
                              if key == "interruptions" else "a seed is a whole number >= 0") + f", got {value!r}")
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is a name, got {value!r}")
    recipes = None if firmware is None else [*(("factory",) if key == "from" else ()), *sorted(firmware)]
    known = {"ecu": list(ecus), "fault": FAULT_KINDS, "package": PACKAGES, "from": recipes, "to": recipes}[key]
    if known is not None and value not in known:
        what = {"ecu": "ECU", "fault": "fault kind", "package": "package"}.get(key, "firmware recipe")
        close = difflib.get_close_matches(value, list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown {what} {value!r}{hint} (known: {', '.join(known) or 'none'})")
    return value


def _header(data: Mapping[str, Any], problems: list[Problem]) -> tuple[str, list[str], dict[str, dict[str, Any]]]:
    for key in data:
        if key not in TOP_KEYS:
            problems.append(((key,), unknown_key_message(key, list(TOP_KEYS))))
    campaign = data.get("campaign")
    if not isinstance(campaign, str) or not re.fullmatch(r"[a-z0-9-]+", campaign):
        problems.append((("campaign",), "required: the campaign name, lowercase letters, digits and '-'"
                         + (f" (got {campaign!r})" if "campaign" in data else "")))
    if not isinstance(data.get("description") or "", str):
        problems.append((("description",), "the description is text"))
    tags = data.get("tags") or []
    if not valid_tags(tags):
        problems.append((("tags",), "tags are a list of pytest marker names (letters, digits, '_')"))
        tags = []
    params: dict[str, dict[str, Any]] = {}
    written = data.get("params") or {}
    if not isinstance(written, Mapping):
        problems.append((("params",), "params map each fault kind to its parameters"))
    for fault, values in (written.items() if isinstance(written, Mapping) else ()):
        if fault not in FAULT_KINDS:
            problems.append((("params", fault), unknown_key_message(fault, list(FAULT_KINDS))))
        elif not isinstance(values, Mapping):
            problems.append((("params", fault), f"the parameters of {fault} are a mapping"))
        else:
            params[fault] = _fault_params(fault, {name: (value, ("params", fault, name))
                                                  for name, value in values.items()}, problems)
    return str(campaign), tags, params


def _fault_params(fault: str, written: Mapping[str, tuple[Any, YamlPath]], problems: list[Problem]) -> dict[str, Any]:
    """The parameters written for ``fault`` (name → value and where), checked together against
    what the kind declares; the ones in error are reported and left out."""
    kind = fault_kind(fault)
    try:
        kind.settings({name: value for name, (value, _) in written.items()})
    except ValidationError as exc:
        bad: set[str] = set()
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else next(iter(written))
            bad.add(name)
            if error["type"] == "extra_forbidden":
                message = unknown_key_message(name, list(kind.Params.model_fields)) + f" for {fault}"
            elif error["type"] == "value_error":
                message = str(error["ctx"]["error"])
            else:
                message = f"{name}: {error['msg'].lower()} (got {error['input']!r})"
            problems.append((written[name][1], message))
        return {name: value for name, (value, _) in written.items() if name not in bad}
    return {name: value for name, (value, _) in written.items()}


def _expectation(key: Any, value: Any, path: YamlPath, problems: list[Problem]) -> tuple[Any, YamlPath] | None:
    if key not in EXPECT_KEYS:
        problems.append((path, unknown_key_message(key, list(EXPECT_KEYS))))
        return None
    versions = [value] if isinstance(value, str) else value
    message = {
        "bricked": "the only allowed value is 'never'" if value != "never" else "",
        "outcome": f"one of {', '.join(OUTCOMES)}, got {value!r}" if value not in OUTCOMES else "",
        "versions": "" if isinstance(versions, list) and versions and all(v in VERSION_STATES for v in versions)
        else f"a non-empty list of {', '.join(VERSION_STATES)}, got {value!r}",
        "max_resent_blocks": "" if value is None or (isinstance(value, int) and not isinstance(value, bool)
                                                     and value >= 0) else f"a whole number >= 0 or null, got {value!r}",
        "nvm_consistent": "" if isinstance(value, bool) else f"true or false, got {value!r}",
    }[key]
    if message:
        problems.append((path, message))
        return None
    return (tuple(versions) if key == "versions" else value), path


def _scenario(case: Case, campaign: str, source: Path, line: int, tags: list[str],
              catalog_params: Mapping[str, Mapping[str, Any]], base_expect: Mapping[str, Any],
              ecus: Mapping[str, str], delta_ecus: Collection[str] | None, problems: list[Problem]) -> Scenario | None:
    """Check one case against what its fault and its ECU allow; the Scenario, or None."""
    count = len(problems)
    values, ecu, fault, at = case.values, case.values["ecu"], case.values["fault"], case.values["at"]
    kind = ecus[ecu]
    if values["package"] == "delta" and delta_ecus is not None and ecu not in delta_ecus:
        problems.append((case.origin["package"], f"ECU {ecu!r} takes no delta packages (its profile has no "
                                                 "'delta:' section)"))
    if at.startswith("patch_step:") and values["package"] != "delta":
        problems.append((case.origin["at"], f"{at!r} is a step of applying a delta package; this case's package "
                                            f"is {values['package']!r}"))
    points = fault_kind(fault).trigger_points
    if points is not None and at.partition(":")[0] not in points:
        problems.append((case.origin["at"], f"{fault} cannot strike at {at!r}: it acts on the bus, at "
                         + ", ".join(f"{point}:N" if point in ("block", "offset") else point for point in points)))
    if at == "confirm" and kind != "ab":
        problems.append((case.origin["at"], f"'confirm' is the trial-boot confirmation of an A/B ECU; {ecu!r} is "
                         f"{kind} (exclude it: {{ecu: {ecu}, at: confirm}})"))
    written = {name: (value, ("params", fault, name)) for name, value in catalog_params.get(fault, {}).items()}
    written |= {name: (value, case.params_origin[name]) for name, value in case.params.items()}
    params = _fault_params(fault, written, problems)
    expect: dict[str, tuple[Any, YamlPath]] = {}
    written = [(key, value, ("expect", key)) for key, value in base_expect.items()]
    for key, value, path in written + [(key, value, case.expect_origin[key]) for key, value in case.expect.items()]:
        if (entry := _expectation(key, value, path, problems)) is not None:
            expect[key] = entry
    outcome, versions = expect.get("outcome"), expect.get("versions")
    if outcome and outcome[0] == "rolled_back" and kind != "ab":
        problems.append((outcome[1], f"rolled_back cannot apply to {kind} ECU {ecu!r}: no previous bank to return to"))
    if versions and "bootloader" in versions[0] and kind == "ab":
        problems.append((versions[1], f"'bootloader' cannot apply to A/B ECU {ecu!r}: it always runs one of its banks"))
    if len(problems) > count:
        return None
    return Scenario(campaign=campaign, source=source, line=line, ecu=ecu, fault=fault, at=at,
                    interruptions=values["interruptions"], seed=values["seed"], package=values["package"],
                    from_image=values["from"], to_image=values["to"], params=params,
                    expect=Expectations(**{key: value for key, (value, _) in expect.items()}),
                    tags=tuple(dict.fromkeys([*tags, *case.tags])))
