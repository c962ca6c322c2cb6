"""The outcome matrix as a PNG heatmap: one panel per ECU (stacked), phase × fault kind, coloured by
failure rate (green: all passed; any failure orange, through to red when all failed; grey: no
scenario), each cell ``passed/total``; a cell with a failure is outlined in red, its text bold.

Drawn with matplotlib's Agg canvas directly (no pyplot, no display, no global state).
"""

from __future__ import annotations

from pathlib import Path

from bench.report.matrix import OutcomeMatrix


def write_png(matrix: OutcomeMatrix, path: Path) -> None:
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    phases, faults, ecus = matrix.phases, matrix.faults, matrix.ecus
    # green only at exactly 0: the first step above it is already orange, so 1 failure in 136 shows
    colours = LinearSegmentedColormap.from_list(
        "failure", [(0.0, "#8fd19e"), (0.001, "#ffc46b"), (1.0, "#f28b82")]).with_extremes(bad="#eeeeee")
    figure = Figure(figsize=(2.6 + 1.15 * len(faults), (1.2 + 0.4 * len(phases)) * len(ecus)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(ecus), 1, squeeze=False)[:, 0]
    image = None
    for ax, ecu in zip(axes, ecus):
        rates = np.full((len(phases), len(faults)), np.nan)
        for row, phase in enumerate(phases):
            for column, fault in enumerate(faults):
                cell = matrix.cell(ecu, phase, fault)
                if cell is None or cell.total == 0:
                    continue
                rates[row, column] = cell.failure_rate
                failed = bool(cell.problems)
                ax.text(column, row, f"{cell.passed}/{cell.total}", ha="center", va="center", fontsize=8,
                        fontweight="bold" if failed else "normal")
                if failed:
                    ax.add_patch(Rectangle((column - 0.45, row - 0.45), 0.9, 0.9, fill=False, edgecolor="#c62828",
                                           linewidth=2.5, zorder=3))
        image = ax.imshow(np.ma.masked_invalid(rates), cmap=colours, vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_title(ecu)
        ax.set_xticks(range(len(faults)), faults, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(phases)), phases, fontsize=8)
        ax.set_xticks([x - 0.5 for x in range(1, len(faults))], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, len(phases))], minor=True)
        ax.grid(which="minor", color="white", linewidth=2)
        ax.tick_params(which="minor", length=0)
    if image is not None:
        figure.colorbar(image, ax=list(axes), label="failure rate", shrink=0.8)
    figure.savefig(path, dpi=110)
