"""The outcome matrix (phase × fault kind, per ECU) from Allure result files: counts, CSV, HTML, PNG."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from bench.report.heatmap import write_png
from bench.report.matrix import OutcomeMatrix
from bench.report.matrix_html import render_html
from bench.report.results import latest_results


def result(directory: Path, name: str, status: str, *, ecu: str | None = None, phase: str | None = None,
           fault: str | None = None, stop: int = 1) -> None:
    """A result file as allure-pytest writes one (only what the matrix reads)."""
    labels = [{"name": key, "value": value} for key, value in (("ecu", ecu), ("phase", phase), ("fault", fault))
              if value is not None] + [{"name": "tag", "value": "nightly"}]
    (directory / f"{uuid.uuid4()}-result.json").write_text(json.dumps(
        {"name": name, "status": status, "historyId": name, "stop": stop, "labels": labels}))


def sample(directory: Path) -> OutcomeMatrix:
    result(directory, "bms-cut@block:3", "passed", ecu="bms", phase="block", fault="power_cut")
    result(directory, "bms-cut@block:9", "failed", ecu="bms", phase="block", fault="power_cut")
    result(directory, "bms-cut@erase", "broken", ecu="bms", phase="erase", fault="power_cut", stop=1)
    result(directory, "bms-cut@erase", "passed", ecu="bms", phase="erase", fault="power_cut", stop=2)  # rerun
    result(directory, "bms-loss@erase", "skipped", ecu="bms", phase="erase", fault="frame_loss")
    result(directory, "bcm-dip@confirm", "failed", ecu="bcm", phase="confirm", fault="brown_out")
    result(directory, "test_security_access", "failed")  # not a scenario: no phase, not in the matrix
    (directory / "half-written-result.json").write_text("{")
    return OutcomeMatrix.from_results(latest_results(directory))


def test_cells_count_the_last_result_of_each_scenario(tmp_path: Path) -> None:
    matrix = sample(tmp_path)
    assert matrix.ecus == ["bcm", "bms"]
    assert matrix.phases == ["erase", "block", "confirm"]  # in flashing order
    assert matrix.faults == ["power_cut", "brown_out", "frame_loss"]  # in catalog order
    block = matrix.cell("bms", "block", "power_cut")
    assert (block.passed, block.total, block.failure_rate, block.problems) == (1, 2, 0.5, ["bms-cut@block:9"])
    erase = matrix.cell("bms", "erase", "power_cut")
    assert (erase.passed, erase.total, erase.broken) == (1, 1, 0)
    skipped = matrix.cell("bms", "erase", "frame_loss")
    assert (skipped.total, skipped.skipped, skipped.failure_rate) == (0, 1, None)
    assert matrix.cell("bcm", "block", "power_cut") is None


def test_csv_has_a_row_per_ecu_phase_and_fault(tmp_path: Path) -> None:
    matrix = sample(tmp_path)
    matrix.write_csv(tmp_path / "matrix.csv")
    assert (tmp_path / "matrix.csv").read_text().splitlines() == [
        "ecu,phase,fault,passed,total,failed,broken,skipped,failure_rate",
        "bcm,confirm,brown_out,0,1,1,0,0,1.000",
        "bms,erase,power_cut,1,1,0,0,0,0.000",
        "bms,erase,frame_loss,0,0,0,0,1,",
        "bms,block,power_cut,1,2,1,0,0,0.500",
    ]


def test_html_table_shows_passed_of_total_coloured_by_failure_rate(tmp_path: Path) -> None:
    html = render_html(sample(tmp_path))
    assert "<h2>bms: 2/3 passed</h2>" in html and "<h2>bcm: 0/1 passed</h2>" in html
    assert "<td style='background:hsl(60, 65%, 78%)' title='bms-cut@block:9'>1/2</td>" in html
    assert "<td style='background:hsl(0, 65%, 78%)' title='bcm-dip@confirm'>0/1</td>" in html
    assert "<td class='none'>1 skipped</td>" in html


def test_heatmap_is_a_png(tmp_path: Path) -> None:
    write_png(sample(tmp_path), tmp_path / "matrix.png")
    assert (tmp_path / "matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_without_scenarios_has_no_matrix(tmp_path: Path) -> None:
    result(tmp_path, "test_security_access", "passed")
    assert not OutcomeMatrix.from_results(latest_results(tmp_path))
