"""A timeline of what the tester did: every step with its time, bytes, retries and outcome."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from udsoncan.exceptions import NegativeResponseException, TimeoutException

from bench.transport.doip_link import DiagnosticNack


@dataclass
class Step:
    name: str
    start: float
    end: float | None = None
    detail: str = ""
    bytes: int = 0
    retries: int = 0
    outcome: str = "running"
    """``ok``, ``NRC 0x35 (InvalidKey)``, ``timeout``, or the exception text."""

    @property
    def duration(self) -> float:
        return (self.end or time.monotonic()) - self.start


@dataclass
class Timeline:
    steps: list[Step] = field(default_factory=list)
    origin: float = field(default_factory=time.monotonic)

    @contextmanager
    def step(self, name: str, detail: str = "") -> Iterator[Step]:
        step = Step(name, time.monotonic(), detail=detail)
        self.steps.append(step)
        try:
            yield step
        except NegativeResponseException as exc:
            code = exc.response.code
            step.outcome = f"NRC 0x{code:02X} ({exc.response.code_name})"
            raise
        except DiagnosticNack as exc:  # refused by a DoIP entity on the way: no timeout, a known reason
            step.outcome = exc.outcome
            raise
        except TimeoutException:
            step.outcome = "timeout"
            raise
        except BaseException as exc:
            step.outcome = f"{type(exc).__name__}: {exc}"
            raise
        else:
            step.outcome = "ok"
        finally:
            step.end = time.monotonic()

    def render(self) -> str:
        """One line a step, times relative to the first: for logs and report attachments."""
        lines = []
        for s in self.steps:
            extra = []
            if s.bytes:
                extra.append(f"{s.bytes} B")
            if s.retries:
                extra.append(f"{s.retries} retries")
            if s.detail:
                extra.append(s.detail)
            lines.append(f"{s.start - self.origin:9.3f}s {s.duration * 1000:9.1f} ms  {s.name:<48} "
                         f"{s.outcome}{'  (' + ', '.join(extra) + ')' if extra else ''}")
        return "\n".join(lines)
