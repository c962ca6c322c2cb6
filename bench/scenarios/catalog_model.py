"""The shape of a scenario catalog, as typed pydantic models (bench files are validated the same
way, by ``bench.config.loader.validation_problems``, so a mistake reads ``file:line: field:
message`` in both).

What the models check: the keys of every section, the campaign name, tags, each fault kind's
``params`` (the kinds' own ``Params`` models from ``bench.faults.kinds``) and the expectations.
What they leave to the expansion (``bench.scenarios.expand``): the scenario keys' values, which
are normalised and checked against the bench (its ECUs, the firmware recipes, the trigger
points) item by item, so that an error points at the very list item.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model

from bench.faults.kinds import fault_kind

_MARKER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMPAIGN = re.compile(r"[a-z0-9-]+")
_REQUIREMENT = re.compile(r"[A-Z][A-Z0-9]*-[1-9][0-9]*(\.[1-9][0-9]*)*")


def _marker(name: str) -> str:
    if not _MARKER.fullmatch(name):
        raise ValueError(f"a tag is a pytest marker name (letters, digits, '_'), got {name!r}")
    return name


def _campaign(name: str) -> str:
    if not _CAMPAIGN.fullmatch(name):
        raise ValueError(f"the campaign name is lowercase letters, digits and '-', got {name!r}")
    return name


def _requirement(name: str) -> str:
    if not _REQUIREMENT.fullmatch(name):
        raise ValueError(f"a requirement id is a document prefix and a clause, such as 'R156-7.2.2.1.1', got {name!r}")
    return name


Tag = Annotated[str, AfterValidator(_marker)]
RequirementId = Annotated[str, AfterValidator(_requirement)]
"""A clause of ``testcases/requirements/*.yaml`` (``bench.scenarios.requirements``)."""
Written = Any
"""A scenario key's value as written: one value or a list (normalised when the catalog expands)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Expectations(_Section):
    """What must hold after the interruption and after the runner's recovery attempt."""

    bricked: Literal["never"] = "never"
    outcome: Literal["updated", "rolled_back", "unchanged"] = "updated"
    versions: Annotated[tuple[Literal["old", "new", "bootloader"], ...],
                        BeforeValidator(lambda value: [value] if isinstance(value, str) else value),
                        Field(min_length=1, strict=False)] = ("old", "new")
    """Allowed right after the interruption (``bootloader``: single-bank only)."""
    max_resent_blocks: Annotated[int, Field(ge=0)] | None = 1
    """None: not checked."""
    nvm_consistent: bool = True


class Dimensions(_Section):
    """The scenario keys, in ``matrix``, ``defaults``, ``exclude`` entries and ``when``."""

    ecu: Written = None
    package: Written = None
    fault: Written = None
    at: Written = None
    interruptions: Written = None
    seed: Written = None
    from_: Written = Field(None, alias="from")
    to: Written = None
    transport: Written = None


DIMENSIONS = tuple(field.alias or name for name, field in Dimensions.model_fields.items())


class Include(Dimensions):
    """Adds cases, or extends the matrix's; ``params`` are those of the case's fault kind."""

    params: dict[str, Any] | None = None
    expect: dict[str, Any] | None = None
    tags: list[Tag] | None = None


class OverrideSet(_Section):
    params: dict[str, Any] | None = None
    expect: dict[str, Any] | None = None


class Override(_Section):
    when: Dimensions | None = None
    set: OverrideSet


@cache
def catalog_model(kinds: tuple[str, ...]) -> type[BaseModel]:
    """The whole file, for the fault kinds ``kinds`` (``bench.faults.kinds.kind_names()``); its
    ``params`` take each kind's own ``Params`` by the kind's name."""
    params = create_model("ParamsByKind", __config__=ConfigDict(extra="forbid", strict=True),
                          **{name: (fault_kind(name).Params | None, None) for name in kinds})
    return create_model(
        "Catalog", __config__=ConfigDict(extra="forbid", strict=True),
        campaign=(Annotated[str, AfterValidator(_campaign)], ...),
        description=(str | None, None),
        tags=(list[Tag] | None, None),
        requirements=(list[RequirementId] | None, None),
        defaults=(Dimensions | None, None),
        matrix=(Dimensions | None, None),
        params=(params | None, None),
        exclude=(list[Dimensions] | None, None),
        include=(list[Include] | None, None),
        overrides=(list[Override] | None, None),
        expect=(Expectations | None, None))
