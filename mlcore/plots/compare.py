"""`mlcore compare`'s figure: every variant's curves over epochs, the mean over its seeds as
a line and ± one sample std as a band. Panels: the compared validation metric, the training
loss (each run's first `train/` column: a GAN's D loss), and the first layer's gradient
norm (each run's first `grad/` column) when logged."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mlcore.atomic import atomic_write_bytes


def _first(rows: list[dict[str, str]], prefix: str) -> str | None:
    """The first column of a run's metrics.csv that starts with `prefix`."""
    return next((c for c in (rows[0] if rows else {}) if c.startswith(prefix)), None)


def _mean_band(runs_rows: list[list[dict[str, str]]], key: str):
    """Per epoch: mean and sample std over the runs that logged it (a run stopped early
    leaves the later epochs to the others). `key` is a column, or a prefix ending in `/`
    (train/, grad/): each run's first column with it, so runs whose first layer or whose
    losses are named differently (a GAN logs train/d_loss) still line up."""
    by_epoch: dict[int, list[float]] = {}
    for rows in runs_rows:
        column = _first(rows, key) if key.endswith("/") else key
        for row in rows:
            if column and row.get(column) not in (None, ""):
                by_epoch.setdefault(int(row["epoch"]), []).append(float(row[column]))
    epochs = sorted(by_epoch)
    means = [statistics.fmean(by_epoch[e]) for e in epochs]
    stds = [statistics.stdev(by_epoch[e]) if len(by_epoch[e]) > 1 else 0.0 for e in epochs]
    return epochs, means, stds


def _panels(groups: dict[str, list[list[dict[str, str]]]], metric: str) -> list[tuple[str, str]]:
    """(key, title): the compared metric, the training loss (a GAN's first: D's), and the
    first layer's gradient norm when logged; none twice, none without data."""
    runs = [rows for runs_rows in groups.values() for rows in runs_rows]
    losses = {_first(rows, "train/") for rows in runs} - {None}
    loss_title = losses.pop() if len(losses) == 1 else "training loss"
    panels = [(metric, metric)]
    if metric not in {_first(rows, "train/") for rows in runs}:
        panels.append(("train/", loss_title))
    if any(_first(rows, "grad/") for rows in runs):
        panels.append(("grad/", "gradient norm, first layer"))
    return panels


def plot_compare(
    groups: dict[str, list[list[dict[str, str]]]],
    metric: str,
    path: Path,
    best: str | None,
    one_seed: frozenset[str] = frozenset(),
) -> Path:
    """groups: variant -> the metrics.csv rows of each of its finished runs; one_seed: the
    variants whose runs share one seed (copies of a run): a mean, no band over seeds."""
    panels = _panels(groups, metric)
    width = 5.2 * len(panels)
    fig = Figure(figsize=(width, 4.4))
    FigureCanvasAgg(fig)
    colors = matplotlib.colormaps["tab10" if len(groups) <= 10 else "tab20"]
    for i, (key, label) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        series = {variant: _mean_band(runs_rows, key) for variant, runs_rows in groups.items()}
        scale_free = key in ("train/", "grad/") or key.endswith("loss")  # not accuracies
        log = scale_free and _spans_decades(series.values())
        if log:
            ax.set_yscale("log")
        for j, (variant, (epochs, means, stds)) in enumerate(series.items()):
            if not epochs:
                continue
            n = len(groups[variant])
            name = f"{variant} (n={n})" + (" *best" if variant == best else "")
            color = colors(j % colors.N)
            ax.plot(epochs, means, color=color, label=name, lw=2.2 if variant == best else 1.4)
            low = [m - s for m, s in zip(means, stds, strict=True)]
            if log:  # a band below zero would reach to the axis' end: keep it in sight
                low = [max(lo, m / 10) for lo, m in zip(low, means, strict=True)]
            high = [m + s for m, s in zip(means, stds, strict=True)]
            if variant not in one_seed:
                ax.fill_between(epochs, low, high, color=color, alpha=0.18, lw=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=7)
    spread = [variant not in one_seed for variant in groups]
    fig.suptitle(
        "mean ± std over seeds" if all(spread)
        else "mean ± std over seeds (a variant of 1 seed: its mean)" if any(spread)
        else "1 seed: no spread"
    )  # fmt: skip
    # margins in inches (a log axis' tick labels need ~0.6"), whatever the panel count; not
    fig.subplots_adjust(left=0.65 / width, right=1 - 0.1 / width, bottom=0.12, top=0.85,
                        wspace=0.25)  # fmt: skip
    # tight_layout: it measures every text box, half of this figure's time at 10 variants
    atomic_write_bytes(path, lambda f: fig.savefig(f, format="png", dpi=100))
    return path


def _spans_decades(series: Any) -> bool:
    """Losses and gradient norms span decades; a log axis shows their tails (it cannot
    show values <= 0, e.g. a hinge loss)."""
    ys = [y for _, means, _ in series for y in means]
    return bool(ys) and min(ys) > 0 and max(ys) / min(ys) > 30
