"""`mlcore compare`'s figure: every variant's curves over epochs, the mean over its seeds as
a line and ± one sample std as a band. Panels: the compared validation metric, train/loss,
and the first layer's gradient norm (the first `grad/` column of metrics.csv) when logged."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mlcore.atomic import atomic_write_bytes


def _mean_band(runs_rows: list[list[dict[str, str]]], key: str):
    """Per epoch: mean and sample std over the runs that logged it (a run stopped early
    leaves the later epochs to the others)."""
    by_epoch: dict[int, list[float]] = {}
    for rows in runs_rows:
        for row in rows:
            if row.get(key) not in (None, ""):
                by_epoch.setdefault(int(row["epoch"]), []).append(float(row[key]))
    epochs = sorted(by_epoch)
    means = [statistics.fmean(by_epoch[e]) for e in epochs]
    stds = [statistics.stdev(by_epoch[e]) if len(by_epoch[e]) > 1 else 0.0 for e in epochs]
    return epochs, means, stds


def plot_compare(
    groups: dict[str, list[list[dict[str, str]]]], metric: str, path: Path, best: str | None
) -> Path:
    """groups: variant -> the metrics.csv rows of each of its finished runs."""
    columns = [c for rows_list in groups.values() for rows in rows_list for c in rows[:1]]
    header = list(columns[0]) if columns else []
    grad = next((c for c in header if c.startswith("grad/")), None)
    panels = [(metric, metric), ("train/loss", "train/loss")]
    if grad:
        panels.append((grad, f"gradient norm, first layer ({grad[5:]})"))
    fig = Figure(figsize=(5.2 * len(panels), 4.4))
    FigureCanvasAgg(fig)
    colors = matplotlib.colormaps["tab10" if len(groups) <= 10 else "tab20"]
    for i, (key, label) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for j, (variant, runs_rows) in enumerate(groups.items()):
            epochs, means, stds = _mean_band(runs_rows, key)
            if not epochs:
                continue
            name = f"{variant} (n={len(runs_rows)})" + (" *best" if variant == best else "")
            color = colors(j % colors.N)
            ax.plot(epochs, means, color=color, label=name, lw=2.2 if variant == best else 1.4)
            low = [m - s for m, s in zip(means, stds, strict=True)]
            high = [m + s for m, s in zip(means, stds, strict=True)]
            ax.fill_between(epochs, low, high, color=color, alpha=0.18, lw=0)
        if key.startswith("grad/") or key == "train/loss":
            _log_if_positive(ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=7)
    fig.suptitle("mean ± std over seeds")
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.12, top=0.85, wspace=0.2)  # not
    # tight_layout: it measures every text box, half of this figure's time at 10 variants
    atomic_write_bytes(path, lambda f: fig.savefig(f, format="png", dpi=100))
    return path


def _log_if_positive(ax: Any) -> None:
    """Losses and gradient norms span decades; a log axis shows their tails (it cannot
    show values <= 0, e.g. a hinge loss)."""
    ys = [y for line in ax.get_lines() for y in line.get_ydata()]
    if ys and min(ys) > 0 and max(ys) / min(ys) > 30:
        ax.set_yscale("log")
