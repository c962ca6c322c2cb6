"""The run's files: the outcome matrix (HTML, PNG heatmap, CSV), the compliance matrix (HTML, CSV)
and the trends across runs (HTML, PNG), written at the end of a run
(``bench.pytest.report_hooks``) and by the merge of shards (``bench.nightly.merge``)."""

from __future__ import annotations

from pathlib import Path

from bench.report.compliance import ComplianceMatrix
from bench.report.compliance_html import write_html as write_compliance_html
from bench.report.heatmap import write_png
from bench.report.matrix import OutcomeMatrix
from bench.report.matrix_html import write_html
from bench.report.trend_png import write_png as write_trend_png
from bench.report.trends import Trends
from bench.report.trends_html import write_html as write_trends_html

REPORTS_DIR = Path("reports")
"""Where the matrices go, under the rootdir."""
MATRIX_STEM = "outcome-matrix"


def write_matrix(matrix: OutcomeMatrix, directory: Path) -> list[Path]:
    """HTML, PNG and CSV of ``matrix`` in ``directory``, in the order a reader opens them."""
    directory.mkdir(parents=True, exist_ok=True)
    html, png, csv = (directory / f"{MATRIX_STEM}.{suffix}" for suffix in ("html", "png", "csv"))
    write_html(matrix, html)
    write_png(matrix, png)
    matrix.write_csv(csv)
    return [html, png, csv]


COMPLIANCE_STEM = "compliance-matrix"


def write_compliance(matrix: ComplianceMatrix, directory: Path) -> list[Path]:
    """HTML and CSV of the compliance matrix in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    html, csv = (directory / f"{COMPLIANCE_STEM}.{suffix}" for suffix in ("html", "csv"))
    write_compliance_html(matrix, html)
    matrix.write_csv(csv)
    return [html, csv]


TRENDS_STEM = "trends"


def write_trends(trends: Trends, directory: Path) -> list[Path]:
    """HTML and PNG of the trends across runs in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    html, png = (directory / f"{TRENDS_STEM}.{suffix}" for suffix in ("html", "png"))
    write_trends_html(trends, html)
    write_trend_png(trends, png)
    return [html, png]
