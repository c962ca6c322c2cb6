"""The image a catalog scenario needs: no larger than its trigger point asks.

A scenario cuts the update at one point and checks how the ECU recovers; the bytes after the
point's TransferData block only cost frames. A trigger at block 3 needs the blocks up to 3 and
one more (so that block 3 stays a block with a successor, as in the full image); a trigger in the
session, security or erase phase, or after the transfer (exit, checks, reset, boot, confirm),
needs two blocks. The image keeps its recipe's version, anti-rollback level, self test and key;
only its payload is shorter (the same synthetic code, cut where it ends).

The full image stays where the point depends on how many blocks there are (``middle_block``,
``last_block``, ``random_block``), for delta packages, and for faults that go on after their
trigger while the update may go on too: network faults on more than one frame (frame loss,
delay, partition, bus-off last for a time and run on into the following blocks) and supplies that drop out several
times (``settle_time``). A shorter transfer would change what they strike. Faults that strike
once stay (a power cut, a brown-out, which stops the attempt at the next request, one corrupted,
duplicated or swapped frame): the blocks after the point's are never reached by them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.faults.kinds import fault_kind
from bench.image.format import HEADER_SIZE

if TYPE_CHECKING:
    from bench.config.models import EcuConfig, EcuProfile
    from bench.scenarios.catalog import Scenario

PHASES = frozenset({"session", "security", "erase", "first_block", "transfer_exit", "check", "reset", "boot",
                    "confirm"})
"""Points that need no particular length of download: two blocks do."""


def fitted_payload(scenario: Scenario, ecu: EcuConfig, profile: EcuProfile, full_payload: int) -> int | None:
    """Payload bytes of the image ``scenario`` needs on ``ecu``, or None for the full image."""
    kind = fault_kind(scenario.fault)
    settings = kind.settings(scenario.params)
    strikes_once = not kind.on_bus or getattr(settings, "count", None) == 1  # one frame, or the supply
    if scenario.package != "full" or not strikes_once or kind.settle_time(settings) > 0:
        return None
    block = profile.max_block_length - 2  # TransferData: SID and counter, then data
    point, _, value = scenario.at.partition(":")
    virtual = ecu.virtual
    ends = {  # the download byte just after the point's unit
        "block": lambda: int(value) * block,
        "offset": lambda: int(value, 0) + 1,
        "page": lambda: (int(value) + 1) * virtual.page_size,
        "sector": lambda: (int(value) + 1) * virtual.sector_size,
    }
    if point in PHASES:
        download = 2 * block
    elif point in ends and (point in ("block", "offset") or virtual is not None):
        blocks = -(-ends[point]() // block) + 1  # the point's block and one more
        download = blocks * block
    else:
        return None
    payload = download - HEADER_SIZE
    return payload if payload < full_payload else None
