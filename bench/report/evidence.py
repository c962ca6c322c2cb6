"""What the bench saw during a test, recorded for whoever reads the result.

``record_evidence`` runs once per test, right after its body (passed, failed or interrupted),
while the bench is still up, when someone will see it (the test failed, or Allure records):

* Allure steps: every flash attempt with its phases, every fault injection inside the attempt
  it struck (``steps``);
* text: the fault timeline, each flash timeline, the decoded UDS transcripts, the serial
  consoles and the ECU state before and after the test (version, mode, bank, boot state,
  journal), as Allure attachments, and as report sections when the test failed (pytest shows
  them with the failure);
* for a test that passed, by default (``--passed-evidence brief``) only its flash attempts
  (without their phases) and faults as steps: a campaign of thousands reads its failures,
  and its report stays small; ``--passed-evidence full`` records the rest too;
* CAN traces of every bus (ASC and BLF, python-can's writers) and, over DoIP, each TCP relay's
  capture (``doip-<entity>.pcapng``, Wireshark's DoIP dissector reads it) in the test's folder,
  attached, as ``--can-trace`` says: ``failed`` (the default: a campaign of thousands keeps the traces
  that matter), ``all`` or ``off``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import allure
import pytest

from bench.faults.timeline import FaultTimeline
from bench.report.steps import add_steps, fault_markers, fault_steps, flash_step, place_faults
from bench.report.versions import record_versions

if TYPE_CHECKING:
    from bench.rig import Bench

TRACE_POLICIES = ("failed", "all", "off")
PASSED_EVIDENCE = ("brief", "full")
RECORDED = pytest.StashKey[bool]()
STATE_BEFORE = pytest.StashKey[dict[str, str]]()
"""The ECU states read when the test's bench came up (the ``bench`` fixture)."""
FAULTS = pytest.StashKey[FaultTimeline]()
"""The fault timeline of the test's ``faults`` fixture."""
SETUP_FAILED = pytest.StashKey[bool]()


def add_trace_option(parser: pytest.Parser) -> None:
    group = parser.getgroup("ota-hil-bench")
    group.addoption(
        "--can-trace", choices=TRACE_POLICIES, default="failed", dest="can_trace",
        help="write each test's CAN traces (ASC and BLF) and DoIP captures (pcapng) for failed tests (default), "
             "all tests, or none")
    group.addoption(
        "--passed-evidence", choices=PASSED_EVIDENCE, default="brief", dest="passed_evidence",
        help="what a passed test records: its flash attempts and faults as steps (brief, the default: "
             "a campaign's report stays small) or everything a failed test records but CAN traces (full)")


def record_evidence(item: pytest.Item, rig: Bench, *, failed: bool, before: Mapping[str, str] | None = None,
                    faults: FaultTimeline | None = None) -> None:
    """Steps, text and traces of ``rig`` for ``item``; once per test (later calls do nothing).
    ``before`` and ``faults`` default to what the ``bench`` and ``faults`` fixtures kept."""
    if item.stash.get(RECORDED, False):
        return
    item.stash[RECORDED] = True
    record_versions(item, rig)
    policy = item.config.getoption("can_trace", default="failed")
    if not failed and policy != "all" and getattr(item.config.option, "allure_report_dir", None) is None:
        return  # nobody would see it: pytest shows sections only with a failure, and Allure is off
    before = item.stash.get(STATE_BEFORE, {}) if before is None else before
    faults = item.stash.get(FAULTS, None) if faults is None else faults
    flashes = rig.flash_results()
    full = failed or item.config.getoption("passed_evidence", default="brief") == "full"
    add_steps(place_faults([flash_step(result, number, phases=full) for _, number, result in flashes],
                           fault_steps(faults) if faults else []))
    if not full:
        return  # a passed test: its attempts and faults as steps, sized for thousands of results
    text = {"fault timeline": faults.render()} if faults else {}
    text.update(rig.evidence())
    after = rig.ecu_states()
    text["ECU state before and after"] = "\n".join(
        f"{ecu} before: {before.get(ecu, 'not read')}\n{ecu} after:  {state}" for ecu, state in after.items())
    attach_text(item, text, sections=failed)
    if policy == "all" or (policy == "failed" and failed):
        traces = [*rig.write_traces(rig.workdir / "traces", fault_markers(faults) if faults else []),
                  *rig.write_captures(rig.workdir / "traces")]
        for path in traces:
            allure.attach.file(str(path), name=path.name, attachment_type=_MIME[path.suffix], extension=path.suffix[1:])
        if failed:
            item.add_report_section("call", "CAN traces", "\n".join(str(path) for path in traces))


_MIME = {".asc": "text/plain", ".blf": "application/octet-stream", ".pcapng": "application/vnd.tcpdump.pcap"}


def attach_text(item: pytest.Item, evidence: Mapping[str, str], *, sections: bool = True) -> None:
    """Text evidence as Allure attachments (when Allure records) and, with ``sections``, as
    report sections (shown with a failure)."""
    for name, text in evidence.items():
        if sections:
            item.add_report_section("call", name, text)
        allure.attach(text, name=name, attachment_type=allure.attachment_type.TEXT)

