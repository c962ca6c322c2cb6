"""Shards: ``--shard-index I --shard-count N`` keeps a deterministic 1/N of the selected tests, so
N machines (a CI matrix) run a campaign between them, each test exactly once.

The selected tests are ordered by node id and dealt round-robin: shard I keeps positions
I, I + N, I + 2N... Every shard collects the same tests from the same checkout and options, so
the shards are disjoint and together are the whole selection; each is within one test of the
others in size. Deal after every other selection (``-k``, ``-m``, ``--scenario-sample``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest


def deal(items: Sequence[pytest.Item], index: int, count: int) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """(shard ``index``'s items, the others), each in the order given."""
    order = sorted(range(len(items)), key=lambda position: items[position].nodeid)
    mine = {position for rank, position in enumerate(order) if rank % count == index}
    return ([item for position, item in enumerate(items) if position in mine],
            [item for position, item in enumerate(items) if position not in mine])
