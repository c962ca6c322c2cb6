"""The outcome matrix as one self-contained HTML page: a table per ECU, phase × fault kind.

A cell reads ``passed/total`` and is coloured by its failure rate (green: all passed, red: all
failed); hovering it lists the scenarios that failed. Empty cells: no such scenario ran.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from bench.report.matrix import Cell, OutcomeMatrix

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 2em; }
th, td { border: 1px solid #bbb; padding: 0.35em 0.7em; text-align: center; }
th { background: #f2f2f2; }
th.phase { text-align: left; }
td.none { background: #fafafa; color: #aaa; }
.legend span { display: inline-block; padding: 0.2em 0.6em; margin-right: 0.3em; }
"""


def failure_colour(rate: float) -> str:
    """Green (no failure) through yellow to red (every scenario failed)."""
    return f"hsl({round(120 * (1 - rate))}, 65%, 78%)"


def render_html(matrix: OutcomeMatrix, title: str = "Outcome matrix") -> str:
    legend = "".join(f"<span style='background:{failure_colour(rate)}'>{rate:.0%}</span>" for rate in (0, 0.25, 0.5, 1))
    parts = [(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
              f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"),
             ("<p class='legend'>passed/total per phase (rows) and fault kind (columns); "
              f"colour by failure rate: {legend}</p>")]
    for ecu in matrix.ecus:
        cells = matrix.cells[ecu].values()
        passed, total = sum(cell.passed for cell in cells), sum(cell.total for cell in cells)
        parts.append(f"<h2>{escape(ecu)}: {passed}/{total} passed</h2><table><tr><th class='phase'>phase</th>"
                     + "".join(f"<th>{escape(fault)}</th>" for fault in matrix.faults) + "</tr>")
        for phase in matrix.phases:
            parts.append(f"<tr><th class='phase'>{escape(phase)}</th>"
                         + "".join(_cell(matrix.cell(ecu, phase, fault)) for fault in matrix.faults) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _cell(cell: Cell | None) -> str:
    if cell is None or cell.total == 0:
        text = f"{cell.skipped} skipped" if cell is not None and cell.skipped else "–"
        return f"<td class='none'>{text}</td>"
    rate = cell.failure_rate or 0.0
    tip = "&#10;".join(escape(name) for name in cell.problems)
    skipped = f" (+{cell.skipped} skipped)" if cell.skipped else ""
    return (f"<td style='background:{failure_colour(rate)}' title='{tip}'>"
            f"{cell.passed}/{cell.total}{skipped}</td>")


def write_html(matrix: OutcomeMatrix, path: Path) -> None:
    path.write_text(render_html(matrix), encoding="utf-8")
