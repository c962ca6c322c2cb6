"""The compliance matrix: requirement → scenarios → passed, failed, not run, and the requirements
nothing demonstrates; computed from Allure results and merged across shards."""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path

from bench.nightly.merge import merge_shards
from bench.report.compliance import FAILED, NOT_RUN, PASSED, UNDEMONSTRATED, ComplianceMatrix, write_claims
from bench.report.compliance_html import render_html
from bench.report.results import Outcome
from bench.scenarios.requirements import load_requirements

REQUIREMENTS = """\
document: {prefix: GB44496, title: GB 44496-2024, version: "2024", verified: in this test}
requirements:
  - {clause: 5.1.1, title: intact packages, paraphrase: refuse altered ones, evidence: refusals, verified: true,
     confirmed_by: the standard's text}
  - {clause: 5.2.4, title: energy, paraphrase: enough energy, evidence: brown-outs, verified: true, confirmed_by: x}
  - {clause: 5.2.5, title: restore, paraphrase: old version or safe state, evidence: cuts, verified: false}
  - {clause: 5.1.2, title: versions readable, paraphrase: read over diagnostics, evidence: reads, verified: true,
     confirmed_by: x}
"""


def catalog(tmp_path: Path):
    (tmp_path / "requirements").mkdir(exist_ok=True)
    (tmp_path / "requirements" / "gb.yaml").write_text(REQUIREMENTS)
    return load_requirements(tmp_path / "requirements")


def outcome(name: str, status: str, *requirements: str) -> Outcome:
    return Outcome(name=name, status=status, labels={}, requirements=requirements)


def test_each_requirement_gets_its_verdict_and_one_nothing_demonstrates_is_flagged(tmp_path: Path) -> None:
    outcomes = [outcome("cut@erase", "passed", "GB44496-5.2.5"), outcome("cut@block:3", "broken", "GB44496-5.2.5"),
                outcome("foreign key", "passed", "GB44496-5.1.1"), outcome("low voltage", "skipped", "GB44496-5.2.4")]
    matrix = ComplianceMatrix.from_results(catalog(tmp_path), outcomes, {"GB44496-5.2.4": 3, "GB44496-5.1.1": 5})
    verdicts = {row.requirement.id: row.verdict for row in matrix.rows}
    assert verdicts == {"GB44496-5.1.1": PASSED, "GB44496-5.2.4": NOT_RUN, "GB44496-5.2.5": FAILED,
                        "GB44496-5.1.2": UNDEMONSTRATED}
    [restore] = [row for row in matrix.rows if row.requirement.id == "GB44496-5.2.5"]
    assert restore.problems == ["cut@block:3"] and restore.ran == 2

    matrix.write_csv(tmp_path / "compliance.csv")
    with (tmp_path / "compliance.csv").open() as file:
        rows = {row["requirement"]: row for row in csv.DictReader(file)}
    assert rows["GB44496-5.1.2"]["verdict"] == "no scenario demonstrates this" and rows["GB44496-5.1.2"]["ran"] == "0"
    assert rows["GB44496-5.2.5"]["clause_verified"] == "no" and rows["GB44496-5.2.5"]["problems"] == "cut@block:3"
    assert rows["GB44496-5.1.1"]["clause_confirmed_by"] == "the standard's text"
    assert rows["GB44496-5.2.5"]["clause_confirmed_by"] == ""
    html = render_html(matrix)
    assert "no scenario demonstrates this" in html and "clause number not yet confirmed" in html
    assert "clause confirmed against the standard&#x27;s text" in html


def result(directory: Path, name: str, status: str, *requirements: str) -> None:
    labels = [{"name": "requirement", "value": requirement} for requirement in requirements]
    (directory / f"{uuid.uuid4()}-result.json").write_text(json.dumps(
        {"uuid": str(uuid.uuid4()), "historyId": name, "name": name, "status": status, "labels": labels,
         "start": 1, "stop": 2}))


def test_the_merge_of_shards_writes_one_compliance_matrix_of_every_result(tmp_path: Path) -> None:
    catalog(tmp_path)
    shards = [tmp_path / "shard-0", tmp_path / "shard-1"]
    for shard in shards:
        shard.mkdir()
        write_claims(shard, {"GB44496-5.2.5": 2, "GB44496-5.2.4": 1})
    result(shards[0], "cut@erase", "passed", "GB44496-5.2.5")
    result(shards[1], "cut@check", "failed", "GB44496-5.2.5")

    merge_shards(tmp_path / "merged", shards, tmp_path / "matrices", tmp_path / "requirements")

    with (tmp_path / "matrices" / "compliance-matrix.csv").open() as file:
        rows = {row["requirement"]: row for row in csv.DictReader(file)}
    assert rows["GB44496-5.2.5"]["verdict"] == "failed" and rows["GB44496-5.2.5"]["ran"] == "2"
    assert rows["GB44496-5.2.4"]["verdict"] == "not run" and rows["GB44496-5.2.4"]["claimed"] == "1"
    assert rows["GB44496-5.1.1"]["verdict"] == "no scenario demonstrates this"
    assert json.loads((tmp_path / "merged" / "requirement-claims.json").read_text()) == {"GB44496-5.2.4": 1,
                                                                                         "GB44496-5.2.5": 2}
    globals_ = [json.loads(path.read_text()) for path in (tmp_path / "merged").glob("*-globals.json")]
    names = [attachment["name"] for run in globals_ for attachment in run["attachments"]]
    assert "Compliance matrix (HTML)" in names and "Compliance matrix (CSV)" in names
