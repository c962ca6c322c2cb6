"""Expand a catalog's ``matrix`` into cases, the way CI matrices do it.

Order of work (each step deterministic, so the same file always gives the same list):

1. ``matrix``: the cartesian product of every dimension, in the order the keys are written
   (first key varies slowest); a scalar is a one-item list. ``defaults`` (then the built-in
   defaults) fill every dimension a case does not give, before any matching below.
2. ``exclude``: drop every product combination matching ALL keys of an entry (a list value
   means "any of these"). An entry, or one value of it, that matches nothing is an error.
3. ``include``: each entry (list values expand into their own small product) either extends
   the product combinations matching its matrix keys with its other keys (dimensions not in
   the matrix, ``params``, ``expect``, ``tags``), or — when it matches none or has no other
   keys — adds one new case. Includes are not subject to ``exclude``. Extending one
   combination with several values of a list is an error (only the last would survive).
4. ``overrides``: where ALL ``when`` keys match (a list: any of these), merge ``set: {params,
   expect}`` into the case, in written order. An override that matches no case is an error.

Values are normalised by the caller's ``normalise`` before any comparison, so ``block:03``
in an exclude matches ``block:3`` in the matrix. Problems are appended to ``problems`` as
``(yaml path, message)``; the expansion carries on so that one run reports them all. The shape
of ``data`` (which keys, mappings and lists where) has been checked by the catalog's model
(``bench.scenarios.catalog_model``) before: sections that failed it are not given here
(``complete=False``).

One mistake, one problem: once a value or a section is in error, what it would have matched is
unknown, so the checks that depend on it (an exclude or override matching nothing, a case with
no value for a key) are not reported; they would only repeat the mistake as follow-on errors.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.config.loader import Problem
from bench.config.yaml_source import YamlPath

Normalise = Callable[[str, Any], Any]
"""``normalise(key, value)`` → the canonical value; raises ValueError with what is wrong."""
EXTRAS = ("params", "expect", "tags")
Pattern = tuple[dict[str, Any], dict[str, YamlPath]]


@dataclass
class Case:
    """One expanded combination, remembering where each of its values was written."""

    values: dict[str, Any]
    origin: dict[str, YamlPath]
    source: YamlPath  # ("matrix",) or ("include", i)
    params: dict[str, Any] = field(default_factory=dict)
    params_origin: dict[str, YamlPath] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    expect_origin: dict[str, YamlPath] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)

    def merge(self, section: str, values: Mapping[str, Any], path: YamlPath) -> None:
        """Merge ``params`` or ``expect`` written at ``path`` over what the case has."""
        target, origin = (self.params, self.params_origin) if section == "params" else (self.expect,
                                                                                         self.expect_origin)
        for key, value in values.items():
            target[key] = value
            origin[key] = (*path, key)


class _Index:
    """Which of ``cases`` have all the values of a pattern (its keys: dimensions), found through a
    table per set of keys, made when first asked, instead of comparing every case with every
    pattern. Valid while the cases' values of those keys do not change."""

    def __init__(self, cases: Sequence[Case]) -> None:
        self.cases = cases
        self._tables: dict[tuple[str, ...], dict[tuple[Any, ...], list[int]]] = {}

    def positions(self, pattern: Mapping[str, Any]) -> list[int]:
        """The places in ``cases`` of those matching ``pattern``, in order."""
        keys = tuple(pattern)
        table = self._tables.get(keys)
        if table is None:
            table = self._tables[keys] = {}
            for index, case in enumerate(self.cases):
                table.setdefault(tuple(case.values.get(key) for key in keys), []).append(index)
        return table.get(tuple(pattern.values()), [])


@dataclass
class _Context:
    dimensions: Sequence[str]
    normalise: Normalise
    problems: list[Problem]
    complete: bool = True
    """False once a value or a section of the catalog is in error."""

    def problem(self, path: YamlPath, message: str) -> None:
        self.problems.append((path, message))

    def follow_on(self, path: YamlPath, message: str) -> None:
        """A problem that an earlier mistake may explain: reported only when there is none."""
        if self.complete:
            self.problem(path, message)

    def dimensions_of(self, mapping: Mapping[str, Any] | None) -> list[str]:
        """The scenario keys ``mapping`` gives, in written order."""
        return [key for key in (mapping or {}) if key in self.dimensions]

    def values(self, key: str, raw: Any, path: YamlPath) -> list[tuple[Any, YamlPath]]:
        """A scalar or a list of values for ``key``, normalised, invalid ones reported and dropped."""
        items = list(enumerate(raw)) if isinstance(raw, list) else [(None, raw)]
        if not items:
            self.problem(path, f"empty list: give at least one value for {key!r}")
        result: list[tuple[Any, YamlPath]] = []
        for index, item in items:
            here = path if index is None else (*path, index)
            try:
                value = self.normalise(key, item)
            except ValueError as exc:
                self.problem(here, str(exc))
                self.complete = False
                continue
            if any(value == seen for seen, _ in result):
                self.problem(here, f"{value!r} is listed twice")
                continue
            result.append((value, here))
        return result

    def entries(self, data: Mapping[str, Any], section: str) -> list[tuple[YamlPath, Mapping[str, Any]]]:
        entries = []
        for index, entry in enumerate(data.get(section) or []):
            if entry:
                entries.append(((section, index), entry))
            else:
                self.problem((section, index), f"empty '{section}' entry")
        return entries

    def patterns(self, entry: Mapping[str, Any], path: YamlPath, keys: Sequence[str]) -> list[Pattern]:
        """The product of the dimension values an entry gives (each may be a list)."""
        columns = [[(key, value, where) for value, where in self.values(key, entry[key], (*path, key))]
                   for key in keys]
        return [({key: value for key, value, _ in row}, {key: where for key, _, where in row})
                for row in itertools.product(*columns)]


def expand(data: Mapping[str, Any], *, dimensions: Sequence[str], builtin: Mapping[str, Any],
           normalise: Normalise, problems: list[Problem], complete: bool = True) -> list[Case]:
    """Every case of the catalog ``data``, in a deterministic order; problems appended.
    ``complete``: False when sections of the file were left out for their mistakes."""
    ctx = _Context(dimensions, normalise, problems, complete)
    defaults = _defaults(ctx, data, builtin)
    product, matrix_keys = _product(ctx, data, defaults)
    product = _exclude(ctx, data, product)
    cases = _include(ctx, data, product, matrix_keys, defaults)
    _override(ctx, data, cases)
    return cases


def _defaults(ctx: _Context, data: Mapping[str, Any], builtin: Mapping[str, Any]) -> dict[str, tuple[Any, YamlPath]]:
    defaults: dict[str, tuple[Any, YamlPath]] = {key: (value, ()) for key, value in builtin.items()}
    written = data.get("defaults") or {}
    for key in ctx.dimensions_of(written):
        if isinstance(written[key], list):
            ctx.problem(("defaults", key), "a default is one value; list several values under 'matrix'")
            continue
        for value, where in ctx.values(key, written[key], ("defaults", key)):
            defaults[key] = (value, where)
    return defaults


def _new_case(ctx: _Context, values: dict[str, Any], origin: dict[str, YamlPath], source: YamlPath,
              defaults: Mapping[str, tuple[Any, YamlPath]]) -> Case | None:
    missing = [key for key in ctx.dimensions if key not in values and key not in defaults]
    if missing:
        names = ", ".join(repr(key) for key in missing)
        ctx.follow_on(source, f"no value for {names}: give it here, in 'matrix' or in 'defaults'")
        return None
    values, origin = dict(values), dict(origin)
    for key in ctx.dimensions:
        if key not in values:
            values[key] = defaults[key][0]
            origin[key] = defaults[key][1] or source
    return Case(values, origin, source)


def _product(ctx: _Context, data: Mapping[str, Any],
             defaults: Mapping[str, tuple[Any, YamlPath]]) -> tuple[list[Case], list[str]]:
    if not data.get("matrix"):
        return [], []
    matrix = data["matrix"]
    keys = ctx.dimensions_of(matrix)
    cases = []
    for values, origin in ctx.patterns(matrix, ("matrix",), keys):
        case = _new_case(ctx, values, origin, ("matrix",), defaults)
        if case is None:
            break  # the same key is missing from every combination: reported once
        cases.append(case)
    return cases, keys


def _exclude(ctx: _Context, data: Mapping[str, Any], product: list[Case]) -> list[Case]:
    dropped: set[int] = set()
    index = _Index(product)
    for path, entry in ctx.entries(data, "exclude"):
        keys = ctx.dimensions_of(entry)
        patterns = ctx.patterns(entry, path, keys)
        for pattern, _ in patterns:
            hits = set(index.positions(pattern))
            if not hits:
                shown = ", ".join(f"{key}: {value}" for key, value in pattern.items())
                ctx.follow_on(path, ("matches no combination of the matrix" if len(patterns) == 1 else
                                   f"{{{shown}}} matches no combination of the matrix") + " (a typo?)")
            dropped |= hits
    return [case for place, case in enumerate(product) if place not in dropped]


def _include(ctx: _Context, data: Mapping[str, Any], product: list[Case], matrix_keys: Sequence[str],
             defaults: Mapping[str, tuple[Any, YamlPath]]) -> list[Case]:
    cases = list(product)
    index = _Index(product)  # includes change no matrix key of a product case
    for path, entry in ctx.entries(data, "include"):
        extras = {key: entry[key] for key in EXTRAS if entry.get(key) is not None}
        tags = extras.get("tags", [])
        dims = ctx.dimensions_of(entry)
        extended: set[int] = set()
        for values, origin in ctx.patterns(entry, path, dims):
            matched = {key: values[key] for key in values if key in matrix_keys}
            extends = len(matched) < len(values) or bool(extras)
            targets = [product[place] for place in index.positions(matched)] if extends else []
            if any(id(case) in extended for case in targets):
                ctx.problem(path, "extends the same matrix combination with several values; list those values "
                                  "in the matrix, or give the entry matrix values that match nothing yet")
                break
            extended |= {id(case) for case in targets}
            if not targets:
                case = _new_case(ctx, values, origin, path, defaults)
                if case is None:
                    continue
                cases.append(case)
                targets = [case]
            for case in targets:
                for key in values:
                    case.values[key], case.origin[key] = values[key], origin[key]
                for section in ("params", "expect"):
                    case.merge(section, extras.get(section, {}), (*path, section))
                case.tags += [tag for tag in tags if tag not in case.tags]
    return cases


def _override(ctx: _Context, data: Mapping[str, Any], cases: list[Case]) -> None:
    for path, entry in ctx.entries(data, "overrides"):
        when = entry.get("when") or {}
        keys = ctx.dimensions_of(when)
        accepted = {key: [value for value, _ in ctx.values(key, when[key], (*path, "when", key))]
                    for key in keys}
        updates = {section: values for section, values in entry["set"].items() if values is not None}
        matched = False
        for case in cases:
            if all(case.values.get(key) in accepted[key] for key in keys):
                matched = True
                for section, values in updates.items():
                    case.merge(section, values, (*path, "set", section))
        if not matched:
            ctx.follow_on((*path, "when") if "when" in entry else path, "matches no scenario (a typo?)")
