"""Allure steps of a test: each flash attempt with its phases, each fault injection, timed.

The flasher and the fault injector keep timelines (``bench.flash.timeline``,
``bench.faults.timeline``); faults fire in the monitor's, a timer's or the simulator's thread,
where Allure's step context cannot follow. So the steps are built from the timelines once
the test body is over, with the times they happened, and added to the running test's result
(allure-python's reporter). Without Allure recording, nothing is done.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import allure_commons
from allure_commons.model2 import Parameter, Status, StatusDetails, TestStepResult

from bench.faults.timeline import FaultTimeline
from bench.flash import FlashResult


def _epoch_ms(monotonic: float) -> int:
    """A ``time.monotonic()`` instant as Allure's epoch milliseconds."""
    return round((time.time() - (time.monotonic() - monotonic)) * 1000)


def flash_step(result: FlashResult, number: int) -> TestStepResult:
    """One flash attempt: a step per timeline entry (session, security, erase, transfer...)."""
    children = []
    for entry in result.timeline.steps:
        ok = entry.outcome == "ok"
        details = ", ".join(filter(None, [f"{entry.bytes} B" if entry.bytes else "",
                                          f"{entry.retries} retries" if entry.retries else "", entry.detail]))
        children.append(TestStepResult(
            name=f"{entry.name}: {entry.outcome}", status=Status.PASSED if ok else Status.FAILED,
            statusDetails=None if ok else StatusDetails(message=entry.outcome),
            parameters=[Parameter(name="details", value=details)] if details else [],
            start=_epoch_ms(entry.start), stop=_epoch_ms(entry.end or entry.start)))
    first = result.timeline.steps[0].start if result.timeline.steps else result.timeline.origin
    last = max((entry.end or entry.start for entry in result.timeline.steps), default=first)
    outcome = "complete" if result.failure is None else "stopped"
    name = f"flash {number}: {result.ecu} to {result.version} ({result.package}"
    name += f", resumed at {result.resumed_from:#x}" if result.resumed_from else ""
    name += f", resumed at logical block {result.resumed_block}" if result.resumed_block else ""
    return TestStepResult(
        name=f"{name}): {outcome}", status=Status.PASSED if result.failure is None else Status.FAILED,
        statusDetails=StatusDetails(message=result.failure) if result.failure else None,
        steps=children, start=_epoch_ms(first), stop=_epoch_ms(last))


def fault_steps(timeline: FaultTimeline) -> list[TestStepResult]:
    """One step per fault the injector fired (an instant: the moment it acted)."""
    steps = []
    for record in timeline.records():
        at = _epoch_ms(record.time)
        parameters = [Parameter(name="trigger", value=record.trigger), Parameter(name="target", value=record.target)]
        if record.detail:
            parameters.append(Parameter(name="details", value=record.detail))
        steps.append(TestStepResult(name=f"fault: {record.action} on {record.target}", status=Status.PASSED,
                                    parameters=parameters, start=at, stop=at))
    return steps


def add_steps(steps: Iterable[TestStepResult]) -> None:
    """Append ``steps`` (in time order) to the test Allure is recording in this thread, if any."""
    reporters = [plugin.allure_logger for plugin in allure_commons.plugin_manager.get_plugins()
                 if hasattr(plugin, "allure_logger")]
    test = reporters[0].get_test(None) if reporters else None
    if test is not None:
        test.steps.extend(sorted(steps, key=lambda step: step.start))
