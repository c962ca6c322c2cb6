"""The trend picture: per run the pass rate, the scenarios and tests run, and the bench faults of
each rack (a rack that gets worse stands out). Drawn with matplotlib's Agg canvas, as the heatmap."""

from __future__ import annotations

from pathlib import Path

from bench.report.trends import Trends


def write_png(trends: Trends, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = [point.run for point in trends.runs]
    x = list(range(len(runs)))
    figure = Figure(figsize=(max(6.0, 1.0 + 0.8 * len(runs)), 7.5), layout="constrained")
    FigureCanvasAgg(figure)
    rate, ran, faults = figure.subplots(3, 1, sharex=True)
    rate.plot(x, [None if point.pass_rate is None else 100 * point.pass_rate for point in trends.runs],
              marker="o", color="#2e7d32")
    rate.set_ylim(0, 105)
    rate.set_ylabel("pass rate (%)")
    rate.set_title("Pass rate, tests run and bench faults per run")
    ran.bar(x, [point.ran for point in trends.runs], color="#5c7cfa")
    ran.set_ylabel("scenarios and tests run")
    racks = sorted({rack for point in trends.runs for rack in point.bench_faults})
    for rack in racks:
        faults.plot(x, [point.bench_faults.get(rack, 0) for point in trends.runs], marker="s", label=rack)
    if racks:
        faults.legend(fontsize=8)
    else:
        faults.text(0.5, 0.5, "no bench faults", transform=faults.transAxes, ha="center", va="center", color="#555")
    faults.set_ylabel("bench faults per rack")
    faults.set_ylim(bottom=0)
    faults.set_xticks(x, runs, rotation=30, ha="right", fontsize=8)
    figure.savefig(path, dpi=100)
