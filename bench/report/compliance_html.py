"""The compliance matrix as one self-contained HTML page, for a technical service: a row per
requirement (document, clause, what it asks in our words, what demonstrates it), its verdict in
this run, how many scenarios and tests claim it and ran, and the ones that failed. A requirement
nothing demonstrates, and a clause number not yet confirmed against the official text, are
flagged; a confirmed one names the text that confirmed it."""

from __future__ import annotations

from html import escape
from pathlib import Path

from bench.report.compliance import FAILED, NOT_RUN, PASSED, UNDEMONSTRATED, ComplianceMatrix, RequirementRow

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 2em; }
th, td { border: 1px solid #bbb; padding: 0.35em 0.7em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.n { text-align: right; }
.unverified { color: #a15c00; font-size: 0.85em; }
.confirmed { color: #555; font-size: 0.85em; }
small { color: #555; }
"""
COLOURS = {PASSED: "#c8ecd0", FAILED: "#f6c1bd", NOT_RUN: "#ececec", UNDEMONSTRATED: "#ffe08a"}


def render_html(matrix: ComplianceMatrix, title: str = "Compliance matrix") -> str:
    counts = ", ".join(f"{count} {verdict}" for verdict, count in matrix.verdicts().items())
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1><p>{escape(counts)}</p>",
             "<table><tr><th>requirement</th><th>what it asks (our words) and what demonstrates it</th>"
             "<th>verdict</th><th>claimed</th><th>ran</th><th>passed</th><th>failed or broken</th></tr>"]
    parts += [_row(row) for row in matrix.rows]
    parts.append("</table>")
    if matrix.unknown:
        parts.append("<p>Results name requirements this catalog does not define: "
                     + escape(", ".join(sorted(matrix.unknown))) + "</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _row(row: RequirementRow) -> str:
    requirement = row.requirement
    flag = f"<div class='confirmed'>clause confirmed against {escape(requirement.confirmed_by)}</div>" \
        if requirement.confirmed_by else \
        "<div class='unverified'>clause number not yet confirmed against the official text</div>"
    problems = "<br>".join(escape(name) for name in row.problems)
    failed = row.count("failed", "broken", "unknown")
    return (f"<tr><td><b>{escape(requirement.id)}</b><br><small>{escape(requirement.document)}</small>{flag}</td>"
            f"<td><b>{escape(requirement.title)}</b><br>{escape(requirement.paraphrase)}<br>"
            f"<small>Evidence: {escape(requirement.evidence)}</small></td>"
            f"<td style='background:{COLOURS[row.verdict]}'>{escape(row.verdict)}</td>"
            f"<td class='n'>{row.claimed}</td><td class='n'>{row.ran}</td><td class='n'>{row.count('passed')}</td>"
            f"<td>{failed}{'<br>' + problems if problems else ''}</td></tr>")


def write_html(matrix: ComplianceMatrix, path: Path) -> None:
    path.write_text(render_html(matrix), encoding="utf-8")
