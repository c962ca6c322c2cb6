"""The fault timeline: every injection, when it fired, what fired it and what it did."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class InjectionRecord:
    time: float  # time.monotonic()
    trigger: str
    action: str
    target: str
    detail: str = ""


@dataclass
class FaultTimeline:
    origin: float = field(default_factory=time.monotonic)
    _records: list[InjectionRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, trigger: str, action: str, target: str, detail: str = "") -> InjectionRecord:
        record = InjectionRecord(time.monotonic(), trigger, action, target, detail)
        with self._lock:
            self._records.append(record)
        return record

    def records(self) -> list[InjectionRecord]:
        with self._lock:
            return list(self._records)

    def render(self) -> str:
        return "\n".join(
            f"{r.time - self.origin:9.3f}s  {r.target:<8} {r.action:<28} when {r.trigger}"
            + (f"  ({r.detail})" if r.detail else "")
            for r in self.records())
