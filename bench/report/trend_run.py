"""The end of a run with a history (``--history DIR``, or the merge of shards): record the run,
compute the trends of the last runs, write ``trends.{html,png}`` and attach them to the report."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from bench.report.history import RunRecord, append_run
from bench.report.matrix_files import write_trends
from bench.report.results import attach_to_run, latest_results
from bench.report.trends import Trends, trends


def run_name_now() -> str:
    """A run's default name in the history: when it ends, UTC, to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_and_trend(alluredir: Path, history: Path, *, run: str, revision: str, window: int,
                     reports: Path) -> tuple[Trends, list[Path]]:
    runs = append_run(history, RunRecord.from_results(run, revision, latest_results(alluredir)))
    found = trends(runs, window)
    written = write_trends(found, reports)
    attach_to_run(alluredir, [(f"Trends across runs ({path.suffix[1:].upper()})", path) for path in written])
    return found, written
