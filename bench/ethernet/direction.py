"""Which way a relay forwarded something: towards the DoIP entity or towards the tester."""

from __future__ import annotations

from enum import Enum


class Direction(Enum):
    TO_ENTITY = "tester->entity"
    TO_TESTER = "entity->tester"
