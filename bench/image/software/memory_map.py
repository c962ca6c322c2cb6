"""The ECU's memory map as a loader sees it: the (start, length) ranges a software file may write."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class MemoryMap:
    """Allowed ranges, each ``(start, length)``; a piece of data must lie wholly inside one of them."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, ranges: Iterable[tuple[int, int]] | MemoryMap | None) -> MemoryMap | None:
        if ranges is None or isinstance(ranges, MemoryMap):
            return ranges
        checked = tuple((int(start), int(length)) for start, length in ranges)
        for start, length in checked:
            if start < 0 or length <= 0:
                raise ValueError(f"memory map range ({start:#x}, {length:#x}) needs start >= 0 and length > 0")
        return cls(checked)

    def contains(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` lies inside one allowed range."""
        return self.first_outside(start, end) is None

    def first_outside(self, start: int, end: int) -> int | None:
        """The first address of ``[start, end)`` past the allowed range that holds ``start``
        (``start`` itself when no range holds it); ``None`` when all of it is allowed."""
        for low, length in self.ranges:
            if low <= start < low + length:
                return None if end <= low + length else low + length
        return start

    def outside_message(self, start: int, end: int) -> str:
        """What to tell the user when ``[start, end)`` is not inside the map."""
        allowed = ", ".join(f"{low:#010x}-{low + length - 1:#010x}" for low, length in self.ranges)
        return (f"data at {start:#010x}-{end - 1:#010x} is outside the ECU's memory map "
                f"(allowed: {allowed or 'nothing'})")
