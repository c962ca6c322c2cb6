"""The base of every file model the bench reads."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys are errors: a typo must never silently fall back to a default. Frozen: a
    model read from a file is not changed behind the file's back."""

    model_config = ConfigDict(extra="forbid", frozen=True)
