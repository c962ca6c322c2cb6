"""Requirement catalogs: the clauses of UN R156 and GB 44496 a bench can demonstrate, as YAML.

One file per document under ``testcases/requirements/`` (``un-r156.yaml`` is the commented
example)::

    document: {prefix: R156, title: ..., version: ..., verified: ...}
    requirements:
      - clause: 7.2.2.1.1                 # as numbered in the official text
        title: ...                         # a few words
        paraphrase: ...                    # in our own words, never the text itself
        evidence: ...                      # what a run shows for it
        verified: true                     # the number checked against a published text (false: not yet)
        confirmed_by: ...                  # with verified: true, the text that confirmed it, and where
    out_of_scope:
      - {clause: 7.1.1.1, why: ...}        # judged not demonstrable on a bench

A requirement's id is the prefix and the clause: ``R156-7.2.2.1.1``, ``GB44496-5.2.3``. Scenario
catalogs name ids under ``requirements:``, Python tests with ``@pytest.mark.requirements(...)``;
an id no catalog defines is a user error. Every mistake of a requirement file is reported at
once, ``file:line: key: message``, as for bench files and scenario catalogs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from bench.config.loader import Problem, config_error, read_validated

REQUIREMENTS_DIR = Path("testcases") / "requirements"
"""Where the requirement catalogs are, under the rootdir."""
_CLAUSE = re.compile(r"[1-9][0-9]*(\.[1-9][0-9]*)*")
_PREFIX = re.compile(r"[A-Z][A-Z0-9]*")


def _clause(text: object) -> str:
    if not isinstance(text, str):
        raise ValueError(f"write the clause in quotes, e.g. clause: \"{text}\" (YAML reads {text!r} as a number, "
                         "which loses trailing zeros)")
    if not _CLAUSE.fullmatch(text):
        raise ValueError(f"a clause is numbered as in the official text, digits and dots such as '7.2.2.1.1' "
                         f"(no trailing dot, no letters), got {text!r}")
    return text


def _prefix(text: str) -> str:
    if not _PREFIX.fullmatch(text):
        raise ValueError(f"a document prefix is capitals and digits such as 'R156', got {text!r}")
    return text


Clause = Annotated[str, BeforeValidator(_clause)]
Text = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Document(_Strict):
    prefix: Annotated[str, AfterValidator(_prefix)]
    title: Text
    version: Text
    """The edition the clause numbers were checked against."""
    url: Text | None = None
    verified: Text
    """How the clause numbers were checked (and which were not)."""


class RequirementEntry(_Strict):
    clause: Clause
    title: Text
    paraphrase: Text
    evidence: Text
    verified: bool
    """Whether the clause number (and the paraphrase's reading of it) was confirmed against a published
    text: every entry says so, and the document's ``verified`` says how. False: the compliance matrix
    marks it, and it must be checked before a hand-over."""
    confirmed_by: Text | None = None
    """For a verified clause (and only then): the published text that confirmed it and where it was
    read, so that a technical service can check the check."""


class OutOfScope(_Strict):
    clause: Clause
    why: Text


class RequirementFile(_Strict):
    document: Document
    requirements: Annotated[list[RequirementEntry], Field(min_length=1)]
    out_of_scope: list[OutOfScope] = []


@dataclass(frozen=True)
class Requirement:
    id: str
    document: str
    """The document's title and version."""
    clause: str
    title: str
    paraphrase: str
    evidence: str
    verified: bool
    confirmed_by: str | None
    """What confirmed the clause (``verified``); None when it is not verified."""
    url: str | None
    source: Path
    line: int


@dataclass(frozen=True)
class RequirementCatalog:
    requirements: Mapping[str, Requirement]
    """id → requirement, in the order of the files."""
    out_of_scope: Mapping[str, str]
    """id → why no bench demonstrates it."""
    files: tuple[Path, ...]

    def __contains__(self, requirement_id: object) -> bool:
        return requirement_id in self.requirements

    def unknown(self, ids: Iterable[str]) -> list[str]:
        """``ids`` that name no requirement, each with a hint (out of scope, or a close id)."""
        return [self.why_unknown(requirement_id) for requirement_id in ids if requirement_id not in self]

    def why_unknown(self, requirement_id: str) -> str:
        if requirement_id in self.out_of_scope:
            return (f"{requirement_id!r} is listed as out of scope for a bench ({self.out_of_scope[requirement_id]}); "
                    "no scenario can demonstrate it")
        close = difflib.get_close_matches(requirement_id, list(self.requirements), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        where = ", ".join(str(path) for path in self.files) or f"none: no *.yaml in {REQUIREMENTS_DIR}/"
        return f"unknown requirement {requirement_id!r}{hint} (requirement catalogs: {where})"


def load_requirement_file(path: Path) -> tuple[list[Requirement], dict[str, str]]:
    """The requirements and out-of-scope clauses of one file; ConfigError lists every mistake."""
    parsed, source, locations = read_validated(path, RequirementFile, what="requirement catalog")
    prefix, document = parsed.document.prefix, f"{parsed.document.title} ({parsed.document.version})"
    problems: list[Problem] = []
    requirements: list[Requirement] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(parsed.requirements):
        line = locations.get(("requirements", index), 1)
        requirement_id = f"{prefix}-{entry.clause}"
        if requirement_id in seen:
            problems.append((("requirements", index, "clause"), f"clause {entry.clause} is listed twice "
                                                                f"(first on line {seen[requirement_id]})"))
            continue
        seen[requirement_id] = line
        if entry.verified and entry.confirmed_by is None:
            problems.append((("requirements", index, "verified"),
                             f"clause {entry.clause} is verified: say against what with confirmed_by "
                             "(the text and where it was read)"))
        if not entry.verified and entry.confirmed_by is not None:
            problems.append((("requirements", index, "confirmed_by"),
                             f"clause {entry.clause} is not verified: set verified: true, or drop confirmed_by"))
        requirements.append(Requirement(id=requirement_id, document=document, clause=entry.clause, title=entry.title,
                                        paraphrase=entry.paraphrase, evidence=entry.evidence,
                                        verified=entry.verified, confirmed_by=entry.confirmed_by,
                                        url=parsed.document.url, source=source, line=line))
    out_of_scope = {}
    for index, entry in enumerate(parsed.out_of_scope):
        requirement_id = f"{prefix}-{entry.clause}"
        if requirement_id in seen:
            problems.append((("out_of_scope", index, "clause"), f"clause {entry.clause} is also a requirement "
                                                                f"(line {seen[requirement_id]}): one or the other"))
        out_of_scope[requirement_id] = entry.why
    if problems:
        raise config_error(problems, str(source), locations, what="requirement catalog")
    return requirements, out_of_scope


def load_requirements(directory: Path) -> RequirementCatalog:
    """Every ``*.yaml`` under ``directory`` (none when there is no such folder: then no id is known)."""
    files = tuple(sorted(directory.glob("*.yaml"))) if directory.is_dir() else ()
    requirements: dict[str, Requirement] = {}
    out_of_scope: dict[str, str] = {}
    for path in files:
        found, excluded = load_requirement_file(path)
        for requirement in found:
            if requirement.id in requirements:
                raise config_error([(("requirements",), f"{requirement.id} is also defined in "
                                                        f"{requirements[requirement.id].source}")],
                                   str(requirement.source), {("requirements",): requirement.line},
                                   what="requirement catalog")
            requirements[requirement.id] = requirement
        out_of_scope.update(excluded)
    return RequirementCatalog(requirements=requirements, out_of_scope=out_of_scope, files=files)
