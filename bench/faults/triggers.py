"""Triggers: the moment a fault is injected, said the way an engineer says it.

``uds.transfer_data(block=37)`` — when TransferData block 37 goes out;
``uds.request("RoutineControl", routine=0xFF00)`` — when the erase routine is requested;
``after(trigger, 0.2)`` — 200 ms after another trigger; ``probe("program_page", 40)`` —
(virtual ECUs) at an exact point inside the simulated bootloader; ``random_transfer_block(seed)``
— a block chosen reproducibly by a seed.

A trigger is armed for one ECU and fires once, on the Nth match (``nth``). A trigger on a request
of a virtual ECU fires inside the simulator when the complete request has arrived, before the ECU
acts on it: the fault always lands before the ECU erases, writes or answers anything of that
request, however loaded the host (``bench.faults.uds_events``). On a real ECU, and for responses,
UDS triggers watch the passive bus monitor on the tester's side and fire in its thread as soon
as the message is complete on the bus: the ECU receives a request at that moment, so whether the
fault lands before or while it acts on it is as on any rack. ``probe`` reaches points inside the
virtual ECU's work (a page half programmed), where its action runs.
"""

from __future__ import annotations

import random
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.errors import UsageError
from bench.faults.uds_events import listen
from bench.monitor import UdsEvent
from bench.monitor.decode import Kind

if TYPE_CHECKING:
    from bench.rig import Bench, EcuHandle

Fire = Callable[[str], None]
"""Called once when the trigger fires, with what exactly fired it."""
Disarm = Callable[[], None]


class Trigger(ABC):
    description: str
    timed = False
    """Fires on a clock (a delay after something), not on a message or a point inside an ECU: it
    may fire while a block of frames is crossing (``bench.gateway``: frames one by one meanwhile)."""

    @abstractmethod
    def arm(self, bench: Bench, ecu: EcuHandle, fire: Fire) -> Disarm:
        """Start watching for ``ecu``; call ``fire`` once; return how to stop watching."""

    def __str__(self) -> str:
        return self.description


@dataclass
class UdsTrigger(Trigger):
    """The Nth UDS message of ``kind`` between tester and ECU for which ``matches`` holds."""

    kind: Kind
    matches: Callable[[UdsEvent], bool]
    description: str
    nth: int = 1
    ecu: str | None = None

    def arm(self, bench: Bench, ecu: EcuHandle, fire: Fire) -> Disarm:
        target = self.ecu or ecu.name
        seen = 0
        done = threading.Event()

        def on_event(event: UdsEvent) -> None:
            nonlocal seen
            if done.is_set() or event.ecu != target or event.kind != self.kind or not self.matches(event):
                return
            seen += 1
            if seen == self.nth:
                done.set()
                fire(event.describe())

        stop = listen(bench, target, on_event, before_the_ecu_acts=self.kind == "request")
        return lambda: (done.set(), stop())


@dataclass
class AfterTrigger(Trigger):
    inner: Trigger
    delay: float
    timed = True

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"{self.delay * 1000:.0f} ms after {self.inner}"

    def arm(self, bench: Bench, ecu: EcuHandle, fire: Fire) -> Disarm:
        timers: list[threading.Timer] = []

        def inner_fired(what: str) -> None:
            timer = threading.Timer(self.delay, fire, args=(f"{self.delay * 1000:.0f} ms after {what}",))
            timer.daemon = True
            timers.append(timer)
            timer.start()

        disarm_inner = self.inner.arm(bench, ecu, inner_fired)

        def disarm() -> None:
            disarm_inner()
            for timer in timers:
                timer.cancel()

        return disarm


@dataclass
class ProbeTrigger(Trigger):
    """A deterministic point inside a virtual ECU (see bench.sim.probes for the points)."""

    point: str
    index: int
    bank_relative: bool = True
    """``program_page``/``erase_sector`` indexes count from the start of the bank the download
    goes to (so the same trigger means the same image offset on single-bank and A/B ECUs)."""

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"probe {self.point}[{self.index}]"

    def arm(self, bench: Bench, ecu: EcuHandle, fire: Fire) -> Disarm:
        sim = ecu.sim
        if sim is None:
            raise UsageError(f"probe triggers need a virtual ECU; {ecu.name!r} is real on this bench")
        index = self.index
        if self.bank_relative and self.point.startswith(("program_page", "erase_sector")):
            index += sim.download_base_index(self.point)
        disarmed = threading.Event()

        def action() -> None:
            if not disarmed.is_set():
                fire(f"{self.point}[{index}] reached")

        try:
            sim.probes.once(self.point, index, action)
        except ValueError as exc:  # an unknown probe point
            raise UsageError(f"probe({self.point!r}, {self.index}): {exc}") from None
        return disarmed.set


def after(trigger: Trigger, delay: float) -> AfterTrigger:
    if delay < 0:
        raise UsageError(f"after({trigger}, {delay}): the delay is seconds >= 0")
    return AfterTrigger(trigger, delay)


@dataclass
class RandomMomentTrigger(Trigger):
    """A moment chosen by ``seed`` within ``window`` seconds after ``start`` fired (a phase)."""

    start: Trigger
    window: float
    seed: int
    timed = True

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"a random moment (seed {self.seed}) within {self.window * 1000:.0f} ms after {self.start}"

    def arm(self, bench: Bench, ecu: EcuHandle, fire: Fire) -> Disarm:
        delay = random.Random(self.seed).uniform(0.0, self.window)
        return AfterTrigger(self.start, delay).arm(bench, ecu, fire)


def random_moment(start: Trigger, window: float, *, seed: int) -> RandomMomentTrigger:
    """Reproducible from ``seed``: the same seed always waits the same time after ``start``."""
    return RandomMomentTrigger(start, window, seed)


@dataclass
class TimeTrigger(Trigger):
    """``seconds`` after the binding is armed."""

    seconds: float
    timed = True

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"{self.seconds * 1000:.0f} ms after arming"

    def arm(self, bench: Bench, ecu: EcuHandle, fire: Fire) -> Disarm:
        timer = threading.Timer(self.seconds, fire, args=(self.description,))
        timer.daemon = True
        timer.start()
        return timer.cancel


def at(seconds: float) -> TimeTrigger:
    return TimeTrigger(seconds)


def probe(point: str, index: int) -> ProbeTrigger:
    if index < 0:
        raise UsageError(f"probe({point!r}, {index}): indexes count from 0")
    return ProbeTrigger(point, index)


@dataclass
class ChosenBlockTrigger(Trigger):
    """The TransferData block ``choose(n)`` of a download of ``n`` blocks: ``n`` is known once the
    ECU answers RequestDownload with its block length (first, middle, last, a seeded random one)."""

    choose: Callable[[int], int]
    description: str
    ecu: str | None = None

    def arm(self, bench: Bench, ecu: EcuHandle, fire: Fire) -> Disarm:
        target = self.ecu or ecu.name
        state: dict[str, int] = {}
        done = threading.Event()

        def on_event(event: UdsEvent) -> None:
            if done.is_set() or event.ecu != target:
                return
            if event.service == "RequestDownload" and event.kind == "request":
                format_id = event.payload[2]  # addressAndLengthFormatIdentifier
                start = 3 + (format_id & 0x0F)
                state["size"] = int.from_bytes(event.payload[start:start + (format_id >> 4)], "big")
            elif event.service == "RequestDownload" and event.positive and "size" in state:
                block = int.from_bytes(event.payload[2:2 + (event.payload[1] >> 4)], "big") - 2
                state["chosen"] = self.choose(-(-state["size"] // block))
            elif event.service == "TransferData" and event.kind == "request" \
                    and event.block_index == state.get("chosen"):
                done.set()
                fire(f"{event.describe()} (block {state['chosen']})")

        stop = listen(bench, target, on_event, before_the_ecu_acts=True)  # it fires on a request
        return lambda: (done.set(), stop())


def random_transfer_block(seed: int) -> ChosenBlockTrigger:
    rng = random.Random(seed)
    return ChosenBlockTrigger(lambda n: rng.randint(1, n), f"a random TransferData block (seed {seed})")


def middle_transfer_block() -> ChosenBlockTrigger:
    return ChosenBlockTrigger(lambda n: n // 2 + 1, "the middle TransferData block")


def last_transfer_block() -> ChosenBlockTrigger:
    return ChosenBlockTrigger(lambda n: n, "the last TransferData block")
