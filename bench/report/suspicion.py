"""Is the bench to blame? What the evidence of a failed test says before the report files it.

A failure is not the ECU's when the evidence says otherwise, even where the bench cannot prove
it. Two signs make a failure a ``SuspectedBenchFault`` (its Allure category, never a product
defect), each a reason of its own, the same words for the same doubt so the report groups by it:

* **the tester went silent**: on the tester's side of a bus, the ECU flow-controlled a first
  frame of the tester (continue to send) within N_Bs, and the tester sent no consecutive frame
  after it, with no fault injected around that moment (a power cut rightly stops a tester);
* **no fault fired**: the scenario armed its fault, it never fired, and the update failed all
  the same; nothing the scenario did explains it.

With the reason go the timing gaps the trace shows, as details (the failure's trace in the
report): the slowest flow control of each ECU after a first frame, and who sent the last frame
of each ECU's exchange, that is, who went silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import can

from bench.errors import FlashError
from bench.report.steps import epoch_seconds

if TYPE_CHECKING:
    from bench.config.models import EcuConfig
    from bench.faults.timeline import FaultTimeline
    from bench.rig import Bench

TESTER_WENT_SILENT = "the tester went silent after the ECU's flow control"
NO_FAULT_FIRED = "no fault fired, yet the update failed"
FAULT_NEARBY = 1.0
"""Seconds around a stall within which an injected fault explains it (the tester stopped on purpose)."""
FIRST_FRAME, CONSECUTIVE_FRAME, CONTINUE_TO_SEND = 0x1, 0x2, 0x30


@dataclass(frozen=True)
class Suspicion:
    reason: str
    """One line, the same for the same kind of doubt."""
    details: str
    """What was seen: the stall's moment and frames, timing gaps, who went silent."""


@dataclass(frozen=True)
class Stall:
    ecu: str
    first_frame: can.Message
    flow_control: can.Message

    def describe(self, origin: float) -> str:
        return (f"{self.ecu}: the tester's first frame {_hex(self.first_frame)} at {self.first_frame.timestamp - origin:.3f} s "
                f"was answered by the ECU's flow control {_hex(self.flow_control)} "
                f"{(self.flow_control.timestamp - self.first_frame.timestamp) * 1000:.0f} ms later; "
                "the tester sent no consecutive frame after it")


def is_ecu_finding(error: BaseException) -> bool:
    """A failure the report would file as the ECU's: a check, a flash step, a UDS exchange."""
    return isinstance(error, (AssertionError, FlashError)) or type(error).__module__.startswith("udsoncan")


def suspect_bench(rig: Bench, faults: FaultTimeline | None, *, fault_armed: bool) -> Suspicion | None:
    """The reason to doubt that a failed test's failure is the ECU's, with what was seen; None
    when the evidence has nothing against the bench. ``fault_armed``: the test armed a fault
    that had to fire (a catalog scenario)."""
    fault_times = [epoch_seconds(record.time) for record in faults.records()] if faults is not None else []
    stalls, gaps = [], []
    origin = None
    for trace in rig.traces.values():
        if trace.side != "tester":
            continue
        frames = list(trace.frames)
        origin = frames[0].timestamp if frames and origin is None else origin
        for name in rig.ecu_names:
            ecu = rig.config.ecus[name]
            if ecu.bus != trace.name:
                continue
            n_bs = rig.profile(name).timing.n_bs
            stalls += [stall for stall in find_tester_stalls(frames, name, ecu, n_bs=n_bs)
                       if not any(stall.first_frame.timestamp - FAULT_NEARBY <= at
                                  <= stall.flow_control.timestamp + FAULT_NEARBY for at in fault_times)]
            gaps += timing_gaps(frames, name, ecu, n_bs=n_bs, origin=origin or 0.0)
    if stalls:
        return Suspicion(TESTER_WENT_SILENT, "\n".join([*(stall.describe(origin or 0.0) for stall in stalls), *gaps]))
    if fault_armed and faults is not None and not faults.records():
        return Suspicion(NO_FAULT_FIRED, "\n".join(["the fault timeline is empty: the armed fault never fired", *gaps]))
    return None


def find_tester_stalls(frames: Sequence[can.Message], name: str, ecu: EcuConfig, *, n_bs: float) -> list[Stall]:
    """Every first frame of the tester to ``ecu`` that the ECU flow-controlled (continue to
    send) within ``n_bs`` and after which the tester sent no consecutive frame: neither before
    its next message nor before the trace ends."""
    stalls = []
    first: can.Message | None = None
    waiting: can.Message | None = None
    for frame in frames:
        kind = frame.data[0] >> 4 if frame.data else None
        if frame.arbitration_id == ecu.request_id:
            if waiting is not None and kind != CONSECUTIVE_FRAME:
                stalls.append(Stall(name, first, waiting))  # type: ignore[arg-type] - set with waiting
            first = frame if kind == FIRST_FRAME else None
            waiting = None
        elif frame.arbitration_id == ecu.response_id and first is not None and frame.data \
                and frame.data[0] == CONTINUE_TO_SEND and frame.timestamp - first.timestamp <= n_bs:
            waiting = frame
    if waiting is not None:
        stalls.append(Stall(name, first, waiting))  # type: ignore[arg-type]
    return stalls


def timing_gaps(frames: Sequence[can.Message], name: str, ecu: EcuConfig, *, n_bs: float, origin: float) -> list[str]:
    """The slowest flow control of ``ecu`` after a first frame of the tester, and who sent the
    last frame of their exchange (who went silent), as lines of text."""
    slowest: tuple[float, float] | None = None
    first_at: float | None = None
    last: can.Message | None = None
    for frame in frames:
        if frame.arbitration_id not in (ecu.request_id, ecu.response_id) or not frame.data:
            continue
        last = frame
        if frame.arbitration_id == ecu.request_id:
            first_at = frame.timestamp if frame.data[0] >> 4 == FIRST_FRAME else None
        elif first_at is not None and frame.data[0] >> 4 == CONTINUE_TO_SEND >> 4:
            delay = frame.timestamp - first_at
            if slowest is None or delay > slowest[0]:
                slowest = (delay, first_at)
            first_at = None
    lines = []
    if slowest is not None:
        lines.append(f"{name}: slowest flow control {slowest[0] * 1000:.0f} ms after the tester's first frame at "
                     f"{slowest[1] - origin:.3f} s (N_Bs {n_bs * 1000:.0f} ms)")
    if last is not None:
        who = "the tester" if last.arbitration_id == ecu.request_id else "the ECU"
        lines.append(f"{name}: the last frame of the exchange is {who}'s, {_hex(last)} at {last.timestamp - origin:.3f} s")
    return lines


def _hex(frame: can.Message) -> str:
    return bytes(frame.data[:8]).hex(" ").upper() + (" ..." if len(frame.data) > 8 else "")
