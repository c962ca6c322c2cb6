"""Scenario catalogs: campaigns of OTA fault scenarios written as YAML, validated and expanded.

A catalog (``testcases/scenarios/*.yaml``; power-loss.yaml is the commented example)::

    campaign: power-loss                 # required, [a-z0-9-]+
    description: Power cut at every flashing phase
    tags: [power, nightly]               # pytest markers
    requirements: [R156-7.2.2.1.1]       # what the scenarios demonstrate (testcases/requirements/)
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
0.5), ``delay`` (seconds: 0.01, lasting: 0.5), ``corruption`` (count: 1, frames: any), ``duplicate`` (count:
1), ``reorder`` (count: 1), ``partition`` (lasting: 0.5) and ``bus_off`` (lasting: 0.5) act on
the bus through the CAN gateway; ``console_disconnect`` (lasting: 0.5) unplugs the ECU's serial
console. With ``transport: doip`` only, at the points where the tester talks: ``tcp_reset`` (a RST
to tester and entity), ``tcp_stall`` (seconds: 1.0) (nothing forwarded, no FIN), ``tcp_half_open`` (a
FIN to the tester only) and ``tcp_delay`` (seconds: 0.05, lasting: 0.5) act on the TCP relay before the
DoIP entity; ``doip_gateway_reset`` reboots the virtual DoIP gateway (sockets and routing activations
dropped); ``doip_nack`` (code: 8, count: 1) has the virtual DoIP gateway refuse the next diagnostic
messages to the ECU with that NACK code (ISO 13400-2: 0x02 to 0x08).

Scenario keys (in ``matrix``, ``defaults``, ``exclude``, ``include``, ``when``): ``ecu``, ``fault``,
``at``, ``interruptions`` (1, or 2: the fault strikes the resumed attempt too),
``seed``, ``package`` (``full``, or ``delta``: a delta package from ``from`` to ``to``, for ECUs
whose profile takes them), ``from`` / ``to`` (recipes under fixtures/firmware; ``from: factory``:
the ECU's factory image), ``transport`` (``can``: the ECU's bus; ``doip``: through a DoIP entity,
bench/scenarios/transport.py; built-in defaults: factory, full, 1, 0, can).
bench/scenarios/expand.py says exactly how exclude, include and overrides combine.

``at``: a phase (PHASES; ``preconditions``: HIS routine 0x0203, ``check_block``: the check of
a downloaded block, 0x0202); ``block:N`` (Nth TransferData, N >= 1); ``offset:N`` (the block carrying
download byte N, N may be hex); ``page:N`` / ``sector:N`` (virtual ECUs: mid-program of page N /
mid-erase of sector N of the download); ``random_block`` (chosen by the seed); ``patch_step:N``
(delta packages on virtual ECUs: the Nth step of applying the patch, from 0). On a ``his`` ECU,
``erase``, ``request_download``, ``first_block``, ``block:N``, ``transfer_exit`` and
``check_block`` take ``@B``: in logical block B (from 0), e.g. ``erase@1``. Power faults
strike anywhere; network faults only while the bus is in use (``FaultKind.trigger_points``).

``expect`` (over the ``Expectations`` defaults, bench/scenarios/catalog_model.py): ``bricked: never``; ``outcome`` after the
runner's recovery attempt; ``versions`` allowed right after the interruption (``bootloader``:
single-bank only); ``max_resent_blocks`` (null: not checked); ``nvm_consistent``. Every
mistake is reported at once, in one ConfigError listing ``file:line: key: message``.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bench.config.loader import Problem, config_error, unknown_key_message, validation_problems
from bench.config.yaml_source import YamlPath, nearest_line, read_yaml
from bench.errors import ConfigError
from bench.faults.kinds import fault_kind, kind_names
from bench.faults.kinds.base import point_class
from bench.scenarios.catalog_model import DIMENSIONS, Expectations, catalog_model
from bench.scenarios.expand import Case, expand
from bench.scenarios.reach import Downloads, unreachable
from bench.scenarios.requirements import RequirementCatalog
from bench.scenarios.transport import TRANSPORTS

PHASES = ("session", "security", "erase", "first_block", "middle_block", "last_block", "transfer_exit",
          "check", "reset", "boot", "confirm", "preconditions", "fingerprint", "request_download", "check_block")
PER_LOGICAL_BLOCK = ("erase", "request_download", "first_block", "transfer_exit", "check_block", "block")
"""Points that take ``@N``: in logical block N (from 0) of an ECU that has several (``his``)."""
HIS_ONLY = ("preconditions",)
PACKAGES = ("full", "delta")
BUILTIN_DEFAULTS: dict[str, Any] = {"from": "factory", "package": "full", "interruptions": 1, "seed": 0,
                                    "transport": "can"}


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
    at_line: int = 0
    """The line of the case's trigger point (0: not known), for errors about it."""
    requirements: tuple[str, ...] = ()
    """Ids of the requirements the scenario demonstrates (the catalog's ``requirements``)."""
    transport: str = "can"
    """How the tester reaches the ECU: ``can`` (its bus) or ``doip`` (a DoIP entity, ``bench.scenarios.transport``)."""
    seed_in_id: bool = False  # the catalog has this case with several seeds: the id shows which
    images_in_id: bool = False  # ... or with several updates (from -> to): the id shows which

    @property
    def id(self) -> str:
        """Stable and readable, e.g. ``bms-full-power_cut@block:37``, ``bcm-full-frame_loss@erase-s3``,
        ``bms-full-power_cut@check-factory-to-app-0.9.0-downgrade``; over DoIP ``bms-doip-full-power_cut@erase``
        (``can``, the default, is not shown: ids made before the transport existed stay as they were)."""
        over = "" if self.transport == "can" else f"-{self.transport}"
        text = f"{self.ecu}{over}-{self.package}-{self.fault}@{self.at}" + ("-x2" if self.interruptions == 2 else "")
        if self.images_in_id:
            text += f"-{self.from_image}-to-{self.to_image}"
        if self.seed_in_id or self.at == "random_block" or fault_kind(self.fault).seeded:
            text += f"-s{self.seed}"
        return text


def parse_at(value: Any) -> str:
    """A trigger point in its normal form (``block:03`` → ``block:3``, ``offset:32768`` → ``offset:0x8000``,
    ``erase@01`` → ``erase@1``)."""
    if isinstance(value, Mapping) and len(value) == 1:  # [block: 3] is a mapping to YAML
        raise ValueError('write a trigger point as one quoted string: "{}:{}"'.format(*next(iter(value.items()))))
    if not isinstance(value, str):
        raise ValueError(f"a trigger point is a string such as 'erase' or 'block:3', got {value!r}")
    point, at_block, logical = value.strip().partition("@")
    point = _parse_point(value, point.strip())
    if not at_block:
        return point
    if point.partition(":")[0] not in PER_LOGICAL_BLOCK:
        raise ValueError(f"trigger point {value!r}: only {', '.join(PER_LOGICAL_BLOCK)} take @N (a logical block)")
    return f"{point}@{_number(value, logical.strip())}"


def _parse_point(value: Any, text: str) -> str:
    if text in PHASES or text == "random_block":
        return text
    kind, sep, number = text.partition(":")
    if sep and kind in ("block", "offset", "page", "sector", "patch_step"):
        n = _number(value, number.strip())
        if n < (1 if kind == "block" else 0):
            raise ValueError(f"trigger point {value!r}: {kind} numbers start at {1 if kind == 'block' else 0}")
        return f"offset:{n:#x}" if kind == "offset" else f"{kind}:{n}"
    close = difflib.get_close_matches(text, [*PHASES, "random_block"], n=1)
    raise ValueError(f"unknown trigger point {value!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                     + f" (a phase: {', '.join(PHASES)}; or block:N, offset:N, page:N, sector:N, random_block, "
                       "patch_step:N; a point in logical block B: erase@B...)")


def _number(value: Any, number: str) -> int:
    try:
        n = int(number, 16) if number.lower().startswith("0x") else int(number, 10)
    except ValueError:
        raise ValueError(f"trigger point {value!r}: {number!r} is not a number") from None
    if n < 0:
        raise ValueError(f"trigger point {value!r}: {number!r} is negative")
    return n


def load_catalog(path: Path, *, ecus: Mapping[str, str], firmware: Collection[str] | None = None,
                 delta_ecus: Collection[str] | None = None, downloads: Downloads | None = None,
                 requirements: RequirementCatalog | None = None) -> list[Scenario]:
    """The scenarios of the catalog at ``path``; ``ecus``: bench ECU → ``single_bank`` | ``ab``;
    ``firmware``, when given: the recipe names ``from``/``to`` may use; ``delta_ecus``, when given:
    the ECUs that take delta packages; ``downloads``, when given: what each case's update sends
    (``bench.scenarios.reach.downloads``), so that a trigger point past its end is an error; ``requirements``, when given: the ids
    ``requirements:`` may name.
    ConfigError lists every problem once (a mistake repeated on several lines, once with them all)."""
    source = Path(path).expanduser().resolve()
    data, locations = read_yaml(source, display=str(source))
    if not isinstance(data, dict):
        raise ConfigError("a scenario catalog is a mapping with 'campaign' and 'matrix' or 'include'",
                          file=str(source), line=locations.get((), 1))
    problems: list[Problem] = []
    kinds = kind_names()
    try:
        catalog_model(kinds).model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(exc, data, catalog_model(kinds))
        data = {key: value for key, value in data.items()  # expand what is well-formed, report the rest too
                if key not in {error["loc"][0] for error in exc.errors() if error["loc"]}}
    cases = expand(data, dimensions=DIMENSIONS, builtin=BUILTIN_DEFAULTS, problems=problems, complete=not problems,
                   normalise=lambda key, value: _normalise(key, value, ecus, firmware, kinds))
    named = data.get("requirements") or []
    for index, requirement_id in enumerate(named):
        if requirements is not None and requirement_id not in requirements:
            problems.append((("requirements", index), requirements.why_unknown(requirement_id)))
    header = _Header(str(data.get("campaign")), data.get("tags") or [], data.get("params") or {},
                     data.get("expect") or {}, tuple(dict.fromkeys(named)))

    def lines(case: Case) -> tuple[int, int]:  # of the case, of its trigger point
        return nearest_line(locations, case.source) or 1, nearest_line(locations, case.origin["at"]) or 0

    built = [(case, scenario) for case in cases
             if (scenario := _scenario(case, header, source, lines(case), ecus, delta_ecus, downloads, problems))]
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
        raise config_error(_once(problems, locations), str(source), locations, what="scenario catalog")
    return scenarios


def _once(problems: list[Problem], locations: Mapping[YamlPath, int]) -> list[Problem]:
    """Each message once, in line order, at the first place it was found; the same mistake
    written on other lines (a misspelt fault kind in the matrix and in an exclude) names them."""
    places: dict[str, list[YamlPath]] = {}
    for path, message in problems:
        places.setdefault(message, [])
        if path not in places[message]:
            places[message].append(path)
    merged = []
    for message, paths in places.items():
        paths.sort(key=lambda path: nearest_line(locations, path) or 0)
        lines = dict.fromkeys(nearest_line(locations, path) or 0 for path in paths[1:])
        lines.pop(nearest_line(locations, paths[0]) or 0, None)
        also = f" (also on line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})" if lines else ""
        merged.append((paths[0], message + also))
    merged.sort(key=lambda problem: nearest_line(locations, problem[0]) or 0)
    return merged


def _disambiguate(scenarios: list[Scenario]) -> list[Scenario]:
    """Show the update (from -> to), then the seed, in the ids of the cases the catalog lists
    with several of them (``scenarios`` show neither yet)."""
    updates: dict[str, set[tuple[str, str]]] = {}
    for scenario in scenarios:
        updates.setdefault(scenario.id, set()).add((scenario.from_image, scenario.to_image))
    scenarios = [replace(scenario, images_in_id=True) if len(updates[scenario.id]) > 1 else scenario
                 for scenario in scenarios]
    seeds: dict[str, set[int]] = {}
    for scenario in scenarios:
        seeds.setdefault(scenario.id, set()).add(scenario.seed)
    return [replace(scenario, seed_in_id=True) if len(seeds[scenario.id]) > 1 else scenario for scenario in scenarios]


def _normalise(key: str, value: Any, ecus: Mapping[str, str], firmware: Collection[str] | None,
               kinds: Collection[str]) -> Any:
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
    known = {"ecu": list(ecus), "fault": list(kinds), "package": PACKAGES, "from": recipes, "to": recipes,
             "transport": TRANSPORTS}[key]
    if known is not None and value not in known:
        what = {"ecu": "ECU", "fault": "fault kind", "package": "package", "transport": "transport"}.get(key, "firmware recipe")
        close = difflib.get_close_matches(value, list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown {what} {value!r}{hint} (known: {', '.join(known) or 'none'})")
    return value


@dataclass(frozen=True)
class _Header:
    """What every case of the catalog shares (already checked by the catalog model)."""

    campaign: str
    tags: list[str]
    params: Mapping[str, Mapping[str, Any]]
    expect: Mapping[str, Any]
    requirements: tuple[str, ...]


def _checked(model: type[BaseModel], written: Mapping[str, tuple[Any, YamlPath]], problems: list[Problem],
             what: str) -> BaseModel | None:
    """``model`` made of the values ``written`` for one case (name → value and where each was
    written: the catalog's section, an include or an override); None with the problems reported
    at the place of each value in error."""
    try:
        return model.model_validate({name: value for name, (value, _) in written.items()})
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else next(iter(written))
            if error["type"] == "extra_forbidden":
                message = unknown_key_message(name, list(model.model_fields)) + f" for {what}"
            elif error["type"] == "value_error":
                message = str(error["ctx"]["error"])
            else:
                message = f"{name}: {error['msg'].lower()} (got {error['input']!r})"
            problems.append((written[name][1], message))
        return None


def _scenario(case: Case, header: _Header, source: Path, lines: tuple[int, int], ecus: Mapping[str, str],
              delta_ecus: Collection[str] | None, downloads: Downloads | None,
              problems: list[Problem]) -> Scenario | None:
    """Check one case against what its fault and its ECU allow; the Scenario, or None."""
    count = len(problems)
    line, at_line = lines
    values, ecu, fault, at = case.values, case.values["ecu"], case.values["fault"], case.values["at"]
    kind = ecus[ecu]
    if values["package"] == "delta" and delta_ecus is not None and ecu not in delta_ecus:
        problems.append((case.origin["package"], f"ECU {ecu!r} takes no delta packages (its profile has no "
                                                 "'delta:' section)"))
    if at.startswith("patch_step:") and values["package"] != "delta":
        problems.append((case.origin["at"], f"{at!r} is a step of applying a delta package; this case's package "
                                            f"is {values['package']!r}"))
    needs = fault_kind(fault).transport
    if needs is not None and values["transport"] != needs:
        problems.append((case.origin["fault"], f"{fault} needs transport: {needs} (it acts on the tester's "
                                               f"{needs} connection); this case's transport is {values['transport']!r}"))
    points = fault_kind(fault).trigger_points
    if points is not None and point_class(at) not in points:
        problems.append((case.origin["at"], f"{fault} cannot strike at {at!r}: it acts on the bus, at "
                         + ", ".join(f"{point}:N" if point in ("block", "offset") else point for point in points)))
    if ("@" in at or at in HIS_ONLY) and kind != "his":
        problems.append((case.origin["at"], f"{at!r} is a point of a bootloader with logical blocks (his); {ecu!r} "
                                            f"is {kind}"))
    if at == "confirm" and kind != "ab":
        problems.append((case.origin["at"], f"'confirm' is the trial-boot confirmation of an A/B ECU; {ecu!r} is "
                         f"{kind} (exclude it: {{ecu: {ecu}, at: confirm}})"))
    params = {name: (value, ("params", fault, name)) for name, value in header.params.get(fault, {}).items()}
    params |= {name: (value, case.params_origin[name]) for name, value in case.params.items()}
    _checked(fault_kind(fault).Params, params, problems, fault)
    written = {key: (value, ("expect", key)) for key, value in header.expect.items()}
    written |= {key: (value, case.expect_origin[key]) for key, value in case.expect.items()}
    expect = _checked(Expectations, written, problems, "expect")
    if expect is not None and expect.outcome == "rolled_back" and kind != "ab":
        problems.append((written["outcome"][1], f"rolled_back cannot apply to {kind} ECU {ecu!r}: no previous bank "
                                                "to return to"))
    if expect is not None and "bootloader" in expect.versions and kind == "ab":
        problems.append((written["versions"][1], f"'bootloader' cannot apply to A/B ECU {ecu!r}: it always runs one "
                                                 "of its banks"))
    if len(problems) == count and downloads is not None:
        try:
            why = unreachable(at, downloads(ecu, values["package"], values["from"], values["to"]))
        except ConfigError as exc:  # a recipe that does not build
            why, at_origin = str(exc), case.origin["to"]
        else:
            at_origin = case.origin["at"]
        if why:
            problems.append((at_origin, why))
    if len(problems) > count:
        return None
    assert isinstance(expect, Expectations)
    return Scenario(campaign=header.campaign, source=source, line=line, at_line=at_line, ecu=ecu, fault=fault,
                    at=at, interruptions=values["interruptions"], seed=values["seed"], package=values["package"],
                    from_image=values["from"], to_image=values["to"], transport=values["transport"],
                    params={name: value for name, (value, _) in params.items()}, expect=expect,
                    tags=tuple(dict.fromkeys([*header.tags, *case.tags])), requirements=header.requirements)
