"""The outcome matrix as one self-contained HTML page: a table per ECU, phase × fault kind.

A failure shows at a glance, also in the small box Allure shows an HTML attachment in: the page
opens with the verdict (every scenario passed, or how many failed and which), each ECU's heading
says how many of its scenarios failed, and a cell with any failure is a colour of its own (orange
for one failure in many, through to red: never the green of a clean cell) with a red outline;
the scenarios that failed are listed under each table (and on hovering their cell). A cell reads
``passed/total``. Empty cells: no such scenario ran.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from bench.report.matrix import Cell, OutcomeMatrix

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0.5em 1em; color: #222; }
table { border-collapse: collapse; margin: 0.3em 0 0.6em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: center; }
th { background: #f2f2f2; }
th.phase { text-align: left; }
td.none { background: #fafafa; color: #aaa; }
td.failed { outline: 3px solid #c62828; outline-offset: -3px; font-weight: bold; }
.verdict { font-size: 1.15em; font-weight: bold; margin: 0.3em 0; }
.verdict.failed, h2.failed, .failures { color: #b71c1c; }
.verdict.passed { color: #1b5e20; }
h2 { font-size: 1.05em; margin: 0.8em 0 0.2em; }
.failures { margin: 0 0 1.2em; padding-left: 1.4em; }
.legend span { display: inline-block; padding: 0.1em 0.5em; margin-right: 0.3em; }
"""
FAILED_HUE = 40
"""Hue of a cell with a single failure in many (orange); all failed is 0 (red). Clean cells are 120."""


def failure_colour(rate: float) -> str:
    """Green when nothing failed; any failure makes it orange, through to red when all failed."""
    hue = 120 if rate == 0 else round(FAILED_HUE * (1 - rate))
    return f"hsl({hue}, 70%, 75%)"


def render_html(matrix: OutcomeMatrix, title: str = "Outcome matrix") -> str:
    legend = "".join(f"<span style='background:{failure_colour(rate)}'>{label}</span>"
                     for rate, label in ((0, "none failed"), (0.01, "1%"), (0.5, "50%"), (1, "all failed")))
    failed = {ecu: [name for cell in matrix.cells[ecu].values() for name in cell.problems] for ecu in matrix.ecus}
    total = sum(cell.total for per_ecu in matrix.cells.values() for cell in per_ecu.values())
    problems = sum(len(names) for names in failed.values())
    verdict = (f"<p class='verdict passed'>All {total} scenarios passed.</p>" if not problems else
               f"<p class='verdict failed'>{problems} of {total} scenarios failed: "
               + ", ".join(escape(name) for names in failed.values() for name in names) + "</p>")
    parts = [(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
              f"<style>{STYLE}</style></head><body>{verdict}<h1 style='font-size:1.2em'>{escape(title)}</h1>"),
             ("<p class='legend'>passed/total per phase (rows) and fault kind (columns); "
              f"colour by failure rate: {legend}; a cell with a failure is outlined in red</p>")]
    for ecu in matrix.ecus:
        cells = matrix.cells[ecu].values()
        passed, ran = sum(cell.passed for cell in cells), sum(cell.total for cell in cells)
        heading = f"{escape(ecu)}: {passed}/{ran} passed" + (f", {ran - passed} failed" if ran > passed else "")
        parts.append(f"<h2{' class=failed' if ran > passed else ''}>{heading}</h2><table><tr><th class='phase'>phase</th>"
                     + "".join(f"<th>{escape(fault)}</th>" for fault in matrix.faults) + "</tr>")
        for phase in matrix.phases:
            parts.append(f"<tr><th class='phase'>{escape(phase)}</th>"
                         + "".join(_cell(matrix.cell(ecu, phase, fault)) for fault in matrix.faults) + "</tr>")
        parts.append("</table>")
        if failed[ecu]:
            parts.append("<ul class='failures'>" + "".join(f"<li>{escape(name)}</li>" for name in failed[ecu]) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _cell(cell: Cell | None) -> str:
    if cell is None or cell.total == 0:
        text = f"{cell.skipped} skipped" if cell is not None and cell.skipped else "–"
        return f"<td class='none'>{text}</td>"
    rate = cell.failure_rate or 0.0
    tip = "&#10;".join(escape(name) for name in cell.problems)
    skipped = f" (+{cell.skipped} skipped)" if cell.skipped else ""
    outlined = " class='failed'" if cell.problems else ""
    return (f"<td{outlined} style='background:{failure_colour(rate)}' title='{tip}'>"
            f"{cell.passed}/{cell.total}{skipped}</td>")


def write_html(matrix: OutcomeMatrix, path: Path) -> None:
    path.write_text(render_html(matrix), encoding="utf-8")
