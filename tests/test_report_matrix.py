"""The outcome matrix (phase × fault kind, per ECU) from Allure result files: counts, CSV, HTML, PNG."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from bench.report.heatmap import write_png
from bench.report.matrix import OutcomeMatrix
from bench.report.matrix_html import failure_colour, render_html
from bench.report.results import latest_results


def result(directory: Path, name: str, status: str, *, ecu: str | None = None, phase: str | None = None,
           fault: str | None = None, stop: int = 1, transport: str | None = None) -> None:
    """A result file as allure-pytest writes one (only what the matrix reads)."""
    labels = [{"name": key, "value": value} for key, value in (("ecu", ecu), ("phase", phase), ("fault", fault),
                                                                ("transport", transport))
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


def test_an_ecu_over_doip_is_a_row_of_its_own(tmp_path: Path) -> None:
    result(tmp_path, "bms-cut@block:3", "passed", ecu="bms", phase="block", fault="power_cut", transport="can")
    result(tmp_path, "bms-doip-cut@block:3", "failed", ecu="bms", phase="block", fault="power_cut", transport="doip")
    matrix = OutcomeMatrix.from_results(latest_results(tmp_path))
    assert matrix.ecus == ["bms", "bms over doip"]
    assert matrix.cell("bms over doip", "block", "power_cut").problems == ["bms-doip-cut@block:3"]


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


def test_html_shows_any_failure_at_a_glance(tmp_path: Path) -> None:
    html = render_html(sample(tmp_path))
    assert html.index("<p class='verdict failed'>2 of 4 scenarios failed: ") < html.index("<table>")  # first thing seen
    assert "<h2 class=failed>bms: 2/3 passed, 1 failed</h2>" in html and "<h2 class=failed>bcm: 0/1 passed, 1 failed</h2>" in html
    assert "<td class='failed' style='background:hsl(20, 70%, 75%)' title='bms-cut@block:9'>1/2</td>" in html
    assert "<td class='failed' style='background:hsl(0, 70%, 75%)' title='bcm-dip@confirm'>0/1</td>" in html
    assert "<td style='background:hsl(120, 70%, 75%)' title=''>1/1</td>" in html  # the rerun passed: clean
    assert "<ul class='failures'><li>bms-cut@block:9</li></ul>" in html  # failing ids under the table
    assert "<td class='none'>1 skipped</td>" in html


def test_one_failure_in_many_is_not_the_colour_of_none() -> None:
    almost, clean = failure_colour(1 / 136), failure_colour(0.0)
    assert almost != clean and almost.startswith("hsl(40,") and clean.startswith("hsl(120,")


def test_a_clean_run_says_so_first(tmp_path: Path) -> None:
    result(tmp_path, "bms-cut@block:3", "passed", ecu="bms", phase="block", fault="power_cut")
    html = render_html(OutcomeMatrix.from_results(latest_results(tmp_path)))
    assert "<p class='verdict passed'>All 1 scenarios passed.</p>" in html and "class='failed'" not in html


def test_heatmap_is_a_png(tmp_path: Path) -> None:
    write_png(sample(tmp_path), tmp_path / "matrix.png")
    assert (tmp_path / "matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_without_scenarios_has_no_matrix(tmp_path: Path) -> None:
    result(tmp_path, "test_security_access", "passed")
    assert not OutcomeMatrix.from_results(latest_results(tmp_path))


def test_heatmap_outlines_a_cell_with_any_failure_in_red(tmp_path: Path) -> None:
    from matplotlib.image import imread

    def red_pixels(directory: Path, failed: int) -> int:
        directory.mkdir()
        for number in range(136):
            status = "failed" if number < failed else "passed"
            result(directory, f"bms-cut@block:{number}", status, ecu="bms", phase="block", fault="power_cut")
        write_png(OutcomeMatrix.from_results(latest_results(directory)), directory / "matrix.png")
        pixels = imread(directory / "matrix.png")[..., :3]
        outline = (abs(pixels[..., 0] - 0xC6 / 255) < 0.02) & (abs(pixels[..., 1] - 0x28 / 255) < 0.02) \
            & (abs(pixels[..., 2] - 0x28 / 255) < 0.02)
        return int(outline.sum())

    assert red_pixels(tmp_path / "clean", failed=0) == 0
    assert red_pixels(tmp_path / "one-in-136", failed=1) > 100  # 135/136 is outlined, not a shade off 136/136
