"""Vehicle oracles: what must hold after a campaign, whatever interrupted it.

UN R156 / GB 44496: a failed update leaves the vehicle in its previous working state. Across
ECUs that means the campaign's targets run the old set of versions or the new one, never a mix;
no ECU's update begins while the vehicle breaks the preconditions;
the master's report says what the ECUs say (and how it brought each back: a bank switch
downloads nothing, a re-flash downloads the old software); an ECU is flashed only after the ECUs
it depends on have finished; no ECU's anti-rollback counter moves before the master commits the
campaign, a campaign rolled back leaves every counter where it was (else the previous software
could not come back), and a committed one leaves each at its new software's security version (a
master that never commits leaves the old software installable); the master finishes what it
began: a campaign it leaves ``committing`` (an ECU that would not commit) is its failure. A
violation is an ``OutcomeViolation`` (``bench.scenarios.oracles``), a finding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.flash.result import FlashResult
from bench.scenarios.oracles import OutcomeViolation
from bench.vehicle.manifest import CampaignManifest
from bench.vehicle.report import CampaignReport


class MixedVersions(OutcomeViolation):
    """The vehicle runs a set of versions the campaign never allowed."""


class ReportDisagrees(OutcomeViolation):
    """The master reports versions the ECUs do not run."""


class OrderBroken(OutcomeViolation):
    """An ECU was flashed while an ECU it depends on was still being flashed, or before it."""


def _shown(versions: Mapping[str, str | None]) -> str:
    return ", ".join(f"{ecu} {version or 'no application'}" for ecu, version in sorted(versions.items()))


def check_old_or_new_set(manifest: CampaignManifest, running: Mapping[str, str | None]) -> None:
    """The targets run all their ``from`` versions or all their ``to`` versions."""
    now = {name: running.get(name) for name in manifest.targets}
    old = {name: target.from_.version for name, target in manifest.targets.items()}
    new = {name: target.to.version for name, target in manifest.targets.items()}
    if now not in (old, new):
        raise MixedVersions(f"the vehicle runs {_shown(now)}: neither the campaign's old set ({_shown(old)}) "
                            f"nor its new set ({_shown(new)})")


def check_report(report: CampaignReport, running: Mapping[str, str | None]) -> None:
    reported = report.versions()
    actual = {name: running.get(name) for name in reported}
    if reported != actual:
        raise ReportDisagrees(f"the master reports {_shown(reported)}, the ECUs run {_shown(actual)}")


class RollbackMisreported(OutcomeViolation):
    """The master reports a rollback the bus contradicts."""


def check_rollbacks(manifest: CampaignManifest, report: CampaignReport,
                    flashes: Sequence[tuple[str, int, FlashResult]]) -> None:
    """``flashes``: the bench's (ECU, attempt, result). An ECU reported brought back by a bank
    switch had one tried and no download of its old software; one reported re-flashed had one."""
    for name, ecu in report.ecus.items():
        old = manifest.targets[name].from_.version
        back = [result for flashed, _, result in flashes if flashed == name and result.version == old]
        downloads = sum(result.package != "bank_switch" for result in back)
        switches = sum(result.package == "bank_switch" for result in back)
        if ecu.rollback == "bank_switch" and (downloads or not switches):
            raise RollbackMisreported(f"the master reports {name} back to {old} by a bank switch, but the bench saw "
                                      f"{switches} switch(es) and {downloads} download(s) of {old}")
        if ecu.rollback == "reflash" and not downloads:
            raise RollbackMisreported(f"the master reports {name} re-flashed with {old}, but the bench saw no "
                                      "download of it")


def check_order(manifest: CampaignManifest, flashes: Sequence[tuple[str, float, float]]) -> None:
    """``flashes``: (ECU, start, end) of every flash of the campaign's install, in any order; each
    ECU's first flash starts after the last flash of every ECU it depends on ended."""
    for name, target in manifest.targets.items():
        starts = [start for ecu, start, _ in flashes if ecu == name]
        if not starts:
            continue
        for dependency in target.after:
            ends = [end for ecu, _, end in flashes if ecu == dependency]
            if not ends or min(starts) < max(ends):
                raise OrderBroken(f"{name} was flashed before {dependency}, which it depends on, was done")


class StartedWhileUnsafe(OutcomeViolation):
    """The master began installing an ECU while the vehicle broke the campaign's preconditions."""


def check_nothing_started_while_unsafe(flashes: Sequence[tuple[str, float, float]],
                                       unsafe: Sequence[tuple[float, float | None]]) -> None:
    """``flashes``: (ECU, start, end) of the install's flashes; ``unsafe``: when the vehicle broke
    the preconditions (from, until; None: to the end). No install began in such a time."""
    for name, start, _ in flashes:
        for begin, until in unsafe:
            if begin <= start and (until is None or start < until):
                raise StartedWhileUnsafe(f"{name}'s update began {start - begin:.2f} s after the vehicle broke the "
                                         "campaign's preconditions, before it was fine again")


class FlashedWhenRefused(OutcomeViolation):
    """The master flashed an ECU although it refused the campaign (a refusal flashes nothing)."""


def check_refused_untouched(flashes: Sequence[tuple[str, int, FlashResult]]) -> None:
    """``flashes``: the bench's (ECU, attempt, result) of a campaign the master refused."""
    if flashes:
        raise FlashedWhenRefused(f"flashed {', '.join(dict.fromkeys(name for name, _, _ in flashes))} although "
                                 "the campaign was refused")


def install_flashes(manifest: CampaignManifest, flashes: Sequence[tuple[str, int, FlashResult]]
                    ) -> list[tuple[str, float, float]]:
    """(ECU, start, end) of the flashes that installed a target's new version (not its rollback),
    for ``check_order``."""
    return [(name, result.timeline.steps[0].start, result.timeline.steps[-1].end or 0.0)
            for name, _, result in flashes
            if name in manifest.targets and result.version == manifest.targets[name].to.version
            and result.timeline.steps]


class CounterMoved(OutcomeViolation):
    """An ECU's anti-rollback counter moved before the master committed the campaign."""


class CounterNotCommitted(OutcomeViolation):
    """A committed campaign left an ECU's anti-rollback counter below (or beyond) its new software's."""


class CampaignUnfinished(OutcomeViolation):
    """The master left the campaign ``committing``: an ECU runs its new software uncommitted."""


COUNTER_MOMENTS = {"confirmed": "before the master committed the campaign (every target had confirmed, "
                                "no commit sent yet)",
                   "end": "although the campaign ended {outcome}"}
"""When the counters are read after the start, and what a counter moved by then means."""
COMMITTING = ("committed", "committing")
"""Outcomes after the master's point of no return: the counters may have moved by the end."""


def check_counters(outcome: str, counters: Mapping[str, Mapping[str, int]], security_versions: Mapping[str, int]
                   ) -> None:
    """``counters``: moment (``start``, ``confirmed``: the master's point once every target
    confirmed, before it commits; ``end``) -> ECU -> anti-rollback counter, for the ECUs whose
    counter the bench reads; ``security_versions``: ECU -> its new software's security version (the
    image's header). None moved by ``confirmed``; by the end only once the master began committing,
    and a committed campaign leaves each at its new software's security version (or where it was,
    if that was higher: the counter never goes down)."""
    start = counters.get("start", {})
    for moment, meaning in COUNTER_MOMENTS.items():
        if moment not in counters or (moment == "end" and outcome in COMMITTING):
            continue
        moved = [f"{ecu} {start[ecu]} -> {value}" for ecu, value in sorted(counters[moment].items())
                 if ecu in start and value != start[ecu]]
        if moved:
            raise CounterMoved(f"anti-rollback counter moved {meaning.format(outcome=outcome or 'unfinished')}: "
                               + ", ".join(moved))
    if outcome != "committed" or "end" not in counters:
        return
    wrong = [f"{ecu} {start[ecu]} -> {value} (its new software's security version is {security_versions[ecu]})"
             for ecu, value in sorted(counters["end"].items())
             if ecu in start and ecu in security_versions and value != max(start[ecu], security_versions[ecu])]
    if wrong:
        raise CounterNotCommitted("the campaign ended committed, but not every anti-rollback counter is at its "
                                  "new software's security version: " + ", ".join(wrong))


def check_finished(outcome: str, reason: str) -> None:
    """The master finished the campaign it began: not left ``committing`` (an ECU that would not commit)."""
    if outcome == "committing":
        raise CampaignUnfinished("the master left the campaign committing (every target runs its new software, "
                                 f"not every one committed it): {reason}")
