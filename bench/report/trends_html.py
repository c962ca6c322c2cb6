"""The trends as one self-contained HTML page: the changes since the previous run (the tests, then
counts per ECU, fault kind and rack) and a table of the recent runs."""

from __future__ import annotations

from html import escape
from pathlib import Path

from bench.report.trends import CHANGES, DIMENSIONS, Trends

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 2em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.7em; text-align: left; }
th { background: #f2f2f2; }
td.n { text-align: right; }
"""


def render_html(trends: Trends, title: str = "Trends across runs") -> str:
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1><p>{escape(trends.summary())}</p>"]
    for change in CHANGES:
        results = trends.changes[change]
        parts.append(f"<h2>{escape(change)}: {len(results)}</h2>")
        if results:
            parts.append("<table><tr><th>test</th><th>ECU</th><th>fault kind</th><th>rack</th><th>now</th></tr>"
                         + "".join(f"<tr><td>{escape(result.name)}</td><td>{escape(result.ecu)}</td>"
                                   f"<td>{escape(result.fault)}</td><td>{escape(result.rack)}</td>"
                                   f"<td>{escape(result.status)}</td></tr>" for result in results) + "</table>")
    for heading, attribute in DIMENSIONS.items():
        table = trends.by(attribute)
        if table:
            parts.append(f"<h2>Per {escape(heading)}</h2><table><tr><th>{escape(heading)}</th>"
                         + "".join(f"<th>{escape(change)}</th>" for change in CHANGES) + "</tr>"
                         + "".join(f"<tr><td>{escape(value)}</td>"
                                   + "".join(f"<td class='n'>{row[change]}</td>" for change in CHANGES) + "</tr>"
                                   for value, row in table.items()) + "</table>")
    racks = sorted({rack for point in trends.runs for rack in point.bench_faults})
    parts.append("<h2>Runs</h2><table><tr><th>run</th><th>ran</th><th>passed</th><th>pass rate</th>"
                 + "".join(f"<th>bench faults: {escape(rack)}</th>" for rack in racks) + "</tr>")
    for point in trends.runs:
        rate = "–" if point.pass_rate is None else f"{point.pass_rate:.1%}"
        parts.append(f"<tr><td>{escape(point.run)}</td><td class='n'>{point.ran}</td><td class='n'>{point.passed}</td>"
                     f"<td class='n'>{rate}</td>"
                     + "".join(f"<td class='n'>{point.bench_faults.get(rack, 0)}</td>" for rack in racks) + "</tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)


def write_html(trends: Trends, path: Path) -> None:
    path.write_text(render_html(trends), encoding="utf-8")
