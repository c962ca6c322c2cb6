"""A campaign scenario in the report: a step per ECU and phase, the campaign on a time axis as a
PNG (one row per ECU: download, verify, activate, confirm, rollback or bank switch; the fault, the master's
journaled points and every flash attempt that failed (a black X) marked, the time the vehicle broke the
preconditions shaded), and the final version table.

The phases come from the flasher's timelines (``bench.flash.timeline``): the steps up to the
end of the transfer are the download, a check routine the verify, the reset and the wait for
the ECU the activation, reading the version back the confirmation; every flash that brought an
ECU back to the campaign's old version, or started its previous bank again (a bank switch), is
its rollback; the version table says which the master reports.
"""

from __future__ import annotations

from pathlib import Path

import allure
from allure_commons.model2 import Parameter, Status, StatusDetails, TestStepResult

from bench.flash import FlashResult
from bench.report.steps import add_steps, epoch_seconds
from bench.scenarios.campaign_runner import CampaignRun

PHASE_COLOURS = {"download": "#5c7cfa", "verify": "#f59f00", "activate": "#12b886", "confirm": "#2b8a3e",
                 "rollback": "#e03131", "bank switch": "#ae3ec9"}
Span = tuple[str, str, float, float]
"""(ECU, phase, start, end) in ``time.monotonic()`` seconds."""


def _ms(monotonic: float) -> int:
    return round(epoch_seconds(monotonic) * 1000)


def _phase(step: str) -> str:
    if step.startswith(("ECUReset", "wait for ECU")):
        return "activate"
    if step.startswith("ReadDataByIdentifier version") and "before" not in step:
        return "confirm"
    if "check" in step.lower() or "verify" in step.lower():
        return "verify"
    return "download"


def phase_spans(run: CampaignRun, flashes: list[tuple[str, int, FlashResult]]) -> list[Span]:
    """Each flash attempt as its phases (consecutive steps of one phase merged), a rollback whole."""
    spans: list[Span] = []
    for name, _, result in flashes:
        steps = [step for step in result.timeline.steps if step.end is not None]
        if not steps:
            continue
        if name in run.versions and result.version == run.versions[name][0]:
            phase = "bank switch" if result.package == "bank_switch" else "rollback"
            spans.append((name, phase, steps[0].start, steps[-1].end or steps[-1].start))
            continue
        activated = False
        for index, step in enumerate(steps):
            phase = _phase(step.name)
            activated |= phase == "activate"
            phase = "confirm" if activated and phase == "download" else phase  # read back after the reset
            if index and spans[-1][1] == phase:  # one span per phase of this attempt
                spans[-1] = (name, phase, spans[-1][2], step.end or step.start)
            else:
                spans.append((name, phase, step.start, step.end or step.start))
    return spans


def campaign_steps(run: CampaignRun, flashes: list[tuple[str, int, FlashResult]]) -> list[TestStepResult]:
    """A step per ECU (its phases as child steps, in time order), one per journaled point and fault."""
    spans = phase_spans(run, flashes)
    steps = []
    for name in run.versions:
        mine = [span for span in spans if span[0] == name]
        failures = [result.failure for ecu, _, result in flashes if ecu == name and result.failure]
        children = [TestStepResult(name=phase, status=Status.PASSED, start=_ms(start), stop=_ms(end))
                    for _, phase, start, end in mine]
        old, new, running = run.versions[name]
        steps.append(TestStepResult(
            name=f"{name}: {old} -> {new}, runs {running or 'nothing'}",
            status=Status.FAILED if failures else Status.PASSED,
            statusDetails=StatusDetails(message="; ".join(failures)) if failures else None,
            parameters=[Parameter(name="flash attempts", value=str(sum(ecu == name for ecu, _, _ in flashes)))],
            steps=children, start=_ms(mine[0][2]) if mine else 0, stop=_ms(mine[-1][3]) if mine else 0))
    for label, moment in [*run.points, *((f"fault: {fault} at {run.scenario.at}", at) for fault, at in run.faults)]:
        steps.append(TestStepResult(name=f"master: {label}" if not label.startswith("fault") else label,
                                    status=Status.PASSED, start=_ms(moment), stop=_ms(moment)))
    return steps


def write_timeline_png(run: CampaignRun, flashes: list[tuple[str, int, FlashResult]], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    spans = phase_spans(run, flashes)
    moments = [moment for _, _, start, end in spans for moment in (start, end)]
    moments += [moment for _, moment in [*run.points, *run.faults]]
    origin = min(moments, default=0.0)
    rows = list(run.versions)
    figure = Figure(figsize=(10.0, 1.2 + 0.7 * len(rows)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for name, phase, start, end in spans:
        axes.broken_barh([(start - origin, max(end - start, 0.002))], (rows.index(name) - 0.35, 0.7),
                         color=PHASE_COLOURS[phase])
    for name, _, result in flashes:
        if result.failure and result.timeline.steps and name in rows:
            end = result.timeline.steps[-1].end or result.timeline.steps[-1].start
            axes.plot([end - origin], [rows.index(name)], marker="X", color="#000000", markersize=9)
    for label, moment in run.points:
        axes.axvline(moment - origin, color="#868e96", linewidth=0.6, linestyle=":")
        axes.text(moment - origin, len(rows) - 0.45, label.split(":")[0], rotation=90, fontsize=6, color="#495057",
                  va="bottom")
    end = max(moments, default=origin)
    for begin, until in run.unsafe:  # the vehicle broke the preconditions
        axes.axvspan(begin - origin, (until if until is not None else end) - origin, color="#ffe3e3", zorder=0)
    for fault, moment in run.faults:
        axes.axvline(moment - origin, color="#c92a2a", linewidth=1.5)
        axes.plot([moment - origin], [len(rows) - 0.5], marker="v", color="#c92a2a", markersize=9)
        axes.text(moment - origin, -0.8, f"{fault} @ {run.scenario.at}", color="#c92a2a", fontsize=7)
    axes.set_yticks(range(len(rows)), rows)
    axes.set_ylim(-1.0, len(rows) + 0.6)
    axes.invert_yaxis()
    axes.set_xlabel("seconds since the campaign began")
    axes.set_title(f"{run.scenario.campaign}[{run.scenario.id}]: {run.outcome or 'unfinished'}", fontsize=9)
    axes.legend(handles=[Patch(color=colour, label=phase) for phase, colour in PHASE_COLOURS.items()],
                fontsize=7, loc="lower right", ncols=len(PHASE_COLOURS))
    figure.savefig(path, dpi=100)


def counter_history(run: CampaignRun, name: str) -> str:
    """``name``'s anti-rollback counter at the start, when every target confirmed, at the end
    (``1 > 1 > 2``; ``-`` where not read), or why it was not checked."""
    if name in run.counters_unchecked:
        return f"not checked: {run.counters_unchecked[name]}"
    read = [run.counters.get(moment, {}).get(name) for moment in ("start", "confirmed", "end")]
    return " > ".join("-" if counter is None else str(counter) for counter in read)


def version_table(run: CampaignRun) -> str:
    lines = [f"{'ECU':<6} {'from':<10} {'to':<10} {'runs now':<10} {'report':<24} "
             "anti-rollback (start > confirmed > end)"]
    for name, (old, new, running) in run.versions.items():
        status = run.report.ecus[name] if run.report and name in run.report.ecus else None
        reported = "-" if status is None else status.status + (f" ({status.rollback.replace('_', ' ')})"
                                                               if status.rollback else "")
        lines.append(f"{name:<6} {old:<10} {new:<10} {running or 'nothing':<10} {reported:<24} "
                     f"{counter_history(run, name)}")
    lines.append(f"outcome: {run.outcome or 'unfinished'}" + (f" ({run.report.reason})" if run.report and
                                                             run.report.reason else ""))
    return "\n".join(lines)


def attach_campaign(run: CampaignRun, flashes: list[tuple[str, int, FlashResult]], folder: Path, *,
                    picture: bool) -> str:
    """Add the campaign's steps to the running Allure test and attach its version table and,
    with ``picture``, its time-axis PNG; returns the version table."""
    add_steps(campaign_steps(run, flashes))
    table = version_table(run)
    allure.attach(table, name="campaign versions", attachment_type=allure.attachment_type.TEXT)
    if picture:
        path = folder / "campaign-timeline.png"
        write_timeline_png(run, flashes, path)
        allure.attach.file(str(path), name="campaign timeline", attachment_type=allure.attachment_type.PNG)
    return table
