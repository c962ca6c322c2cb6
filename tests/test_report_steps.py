"""Allure steps in time order: a fault is a step inside the attempt, and the phase, it struck."""

from __future__ import annotations

from allure_commons import model2
from allure_commons.model2 import Status

from bench.report.steps import place_faults


def step(name: str, start: int, stop: int, *children: model2.TestStepResult) -> model2.TestStepResult:
    return model2.TestStepResult(name=name, status=Status.PASSED, start=start, stop=stop, steps=list(children))


def names(steps: list[model2.TestStepResult]) -> list[object]:
    return [(s.name, names(s.steps)) if s.steps else s.name for s in steps]


def test_a_fault_lands_in_the_phase_of_the_attempt_it_struck_and_others_stand_at_their_moment() -> None:
    first = step("flash 1", 100, 400, step("RequestDownload", 100, 150), step("TransferData", 160, 400),
                 step("never reached", 401, 401))
    second = step("flash 2", 900, 1200, step("RequestDownload", 900, 950), step("TransferData", 950, 1200))
    cut = step("fault: power cut on bms", 300, 300)
    before = step("fault: bus off on body", 50, 50)
    between = step("fault: frame loss on bcm", 600, 600)
    placed = place_faults([first, second], [between, cut, before])
    assert names(placed) == [
        "fault: bus off on body",
        ("flash 1", ["RequestDownload", ("TransferData", ["fault: power cut on bms"]), "never reached"]),
        "fault: frame loss on bcm",
        ("flash 2", ["RequestDownload", "TransferData"]),
    ]


def test_a_fault_between_two_phases_of_an_attempt_sits_between_them() -> None:
    attempt = step("flash 1", 0, 100, step("erase", 0, 40), step("RequestDownload", 60, 100))
    placed = place_faults([attempt], [step("fault: power cut on bms", 50, 50)])
    assert names(placed) == [("flash 1", ["erase", "fault: power cut on bms", "RequestDownload"])]
