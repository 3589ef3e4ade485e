"""Training curves from metrics.csv: losses, the monitored metrics, learning rate, and
per-layer gradient norms.

Rules that make them read at a glance: one panel per quantity (accuracy and macro F1 would
hide each other; an mse of 3000 would flatten an r2 of 0.5), each panel's y-label names
its quantity, panels share one "epoch" axis, legends sit outside the data, and the best
epoch (the checkpoint monitor's) is a dotted vertical line on every panel.

Built with matplotlib's object API on the Agg canvas (no pyplot, no global backend switch),
written atomically like every file of a run. `curve_figures` builds the figures without
writing them, so tests can read their axes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory

from mlcore.atomic import atomic_write_bytes

# A loss spanning more than this ratio is drawn on a log axis, or its tail looks flat.
LOG_RANGE = 30.0
# A learning rate is drawn on a log axis only when most of the run spans decades (step
# decays by 10x, twice or more): the middle 80% of epochs spans more than LR_LOG_SPREAD.
# A cosine's last epochs approach 0, so its max/min is huge, yet on a log axis it looks
# like a cliff; its middle 80% spans about 40x whatever its length, and a linear axis
# shows it as the cosine it is.
LR_LOG_SPREAD = 50.0
GAN_SCORES = ("train/d_real", "train/d_fake")
# What the reader calls each metrics.csv column (val/f1 is the macro F1).
NAMES = {
    "train/loss": "train", "val/loss": "val", "lr": "learning rate",
    "train/data_loss": "train, data loss only", "train/penalty": "L1/L2 penalty",
    "train/d_loss": "discriminator loss", "train/g_loss": "generator loss",
    "train/d_real": "real samples", "train/d_fake": "generated samples",
    "val/accuracy": "accuracy", "val/f1": "macro F1", "val/miou": "mean IoU",
    "val/pixel_accuracy": "pixel accuracy", "val/mse": "MSE", "val/rmse": "RMSE",
    "val/mae": "MAE", "val/r2": "R²", "val/score": "score (quality × coverage)",
    "val/quality": "quality", "val/coverage": "coverage", "val/kl": "KL from uniform",
    "weights/sparsity": "weights with |w| < 1e-3", "weights/norm": "weights' L2 norm",
    "val/dead_relu": "dead ReLU units (val)",
}  # fmt: skip
# trainer.log_model_stats: the model's own measures, a figure apart from the metrics
MODEL_STATS = ("weights/sparsity", "weights/norm", "val/dead_relu")


@dataclass(frozen=True)
class Panel:
    """One axes: the columns it draws, its y-label, and its y scale: "auto" (log when the
    values are positive and span more than LOG_RANGE), "log", "linear", or "lr" (lr_scale;
    a linear lr axis starts at 0, so a constant rate reads as one)."""

    keys: list[str]
    ylabel: str
    scale: str = "auto"


class _PlainLogFormatter(LogFormatter):
    """Matplotlib's choice of which log ticks to label (the in-between ones too when the
    axis spans under a decade or two), written as plain numbers: 0.3, 1, 0.01, 1e-05."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:.3g}" if super().__call__(x, pos) else ""


def _name(key: str, layer_names: dict[str, str]) -> str:
    if key.startswith("grad/"):
        return layer_names.get(key.removeprefix("grad/"), key.removeprefix("grad/"))
    return NAMES.get(key, key.removeprefix("val/").removeprefix("train/"))


def _series(rows: list[dict[str, str]], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for row in rows:
        if row.get(key) not in (None, ""):
            xs.append(int(row["epoch"]))
            ys.append(float(row[key]))
    return xs, ys


def figure_panels(keys: list[str]) -> dict[str, tuple[str, list[Panel]]]:
    """File stem -> (title, panels) for the columns that metrics.csv has."""
    losses = [k for k in keys if k.startswith("train/") and k not in GAN_SCORES]
    # train loss (data loss + L1/L2 penalty), its data part, and val loss are one quantity;
    # the penalty alone is another scale, and so is each of a GAN's two losses.
    supervised = [k for k in ("train/loss", "train/data_loss", "val/loss") if k in keys]
    apart = [k for k in losses if k not in supervised]
    grads = [k for k in keys if k.startswith("grad/")]
    figures = {
        "loss": ("loss", ([Panel(supervised, "loss")] if supervised else []) +
                 [Panel([k], NAMES.get(k, k)) for k in apart]),
        "discriminator": ("discriminator's mean output",
                          [Panel([k for k in GAN_SCORES if k in keys], "mean sigmoid(D(x))",
                                 "linear")]),
        "metrics": ("validation metrics", [Panel([k], NAMES.get(k, k.removeprefix("val/")))
                                           for k in keys if k.startswith("val/")
                                           and k not in ("val/loss", *MODEL_STATS)]),
        # fractions on a plain axis; the norm may span decades (L1 and L2 shrink it)
        "model_stats": ("the model's weights and ReLU units",
                        [Panel([k], NAMES[k], "auto" if k == "weights/norm" else "linear")
                         for k in MODEL_STATS if k in keys]),
        "lr": ("learning-rate schedule", [Panel(["lr"], "learning rate", "lr")]),
        "grad_norms": ("gradient norm per layer (last step of each epoch)",
                       [Panel(grads, "L2 norm of the weight gradient", "log")]),
    }  # fmt: skip
    return {
        stem: (title, panels)
        for stem, (title, panels) in figures.items()
        if panels and all(p.keys and all(k in keys for k in p.keys) for p in panels)
    }


def lr_scale(values: list[float]) -> str:
    """ "log" when the middle 80% of the epochs' learning rates spans more than
    LR_LOG_SPREAD (a step schedule falling by decades), else "linear" (constant, cosine,
    one-cycle, a single step)."""
    positive = sorted(v for v in values if v > 0)
    if len(positive) < len(values) or not positive:  # 0 cannot go on a log axis
        return "linear"
    p10, p90 = np.percentile(positive, [10, 90])
    return "log" if p90 / p10 > LR_LOG_SPREAD else "linear"


def _scale(rows: list[dict[str, str]], panel: Panel) -> str:
    values = [y for key in panel.keys for y in _series(rows, key)[1]]
    if panel.scale == "lr":
        return lr_scale([v for v in values if v == v])  # NaN != NaN: drop it
    if panel.scale != "auto":
        return panel.scale
    if any(y <= 0 for y in values):  # a log axis would drop them (a hinge loss goes negative)
        return "linear"
    positive = [y for y in values if y > 0]  # NaN (a metric with no value) is neither
    return "log" if positive and max(positive) / min(positive) > LOG_RANGE else "linear"


def _colors(n: int) -> list[tuple[float, ...]]:
    """Distinct hues for up to 20 curves; beyond that (a ResNet's layers) no palette stays
    distinct, so the colour runs from dark to light with depth: the order still reads."""
    if n <= 20:
        cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
        return [cmap(i) for i in range(n)]
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(0.9 * i / (n - 1)) for i in range(n)]  # 0.9: the last yellow is too pale


def _draw_panel(ax: Axes, rows: list[dict[str, str]], panel: Panel,
                layer_names: dict[str, str], best: dict[str, Any] | None) -> None:  # fmt: skip
    many = len(panel.keys) > 10
    colors = _colors(len(panel.keys))
    for i, key in enumerate(panel.keys):
        xs, ys = _series(rows, key)
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3,
                label=_name(key, layer_names), color=colors[i])  # fmt: skip
        if best and best.get("monitor") == key and best.get("epoch") in xs:
            ax.plot(best["epoch"], ys[xs.index(best["epoch"])], marker="*", markersize=11,
                    color="black", linestyle="none", zorder=5)  # fmt: skip
    scale = _scale(rows, panel)
    ax.set_yscale(scale)
    if scale == "log":  # "0.3" rather than "3 x 10^-1"
        ax.yaxis.set_major_formatter(_PlainLogFormatter())
        ax.yaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))
    if panel.scale == "lr" and scale == "linear":
        ax.set_ylim(bottom=0)
    ax.set_ylabel(panel.ylabel)
    ax.grid(alpha=0.3)
    if best and best.get("epoch") is not None:
        ax.axvline(best["epoch"], linestyle=":", color="0.25", linewidth=1.2)
    if len(panel.keys) > 1:  # beside or below the axes, where it hides no curve
        if many or len(panel.keys) > 4:
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18),
                      ncols=min(len(panel.keys), 5), frameon=False)  # fmt: skip
        else:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _label_best(ax: Axes, best: dict[str, Any], last_epoch: int) -> None:
    """ "best: epoch N (monitor)" just above the first panel, ending or starting at the dotted
    line: above the axes it covers no curve."""
    epoch = best["epoch"]
    right = epoch > (last_epoch + 1) / 2  # past the middle: write to the left of the line
    text = f"best: epoch {epoch}" + (f" ({best['monitor']})" if best.get("monitor") else "")
    above = blended_transform_factory(ax.transData, ax.transAxes)  # x: epoch, y: axes
    ax.text(epoch, 1.01, text, ha="right" if right else "left", va="bottom", fontsize=8,
            color="0.2", transform=above)  # fmt: skip


def build_figure(rows: list[dict[str, str]], title: str, panels: list[Panel],
                 layer_names: dict[str, str] | None = None,
                 best: dict[str, Any] | None = None) -> Figure:  # fmt: skip
    """Panels stacked on one shared epoch axis; only the bottom one says "epoch"."""
    tall = any(len(p.keys) > 4 for p in panels)  # room for a legend below
    height = 2.3 * len(panels) + 1.0 + (1.2 if tall else 0.0)
    fig = Figure(figsize=(7.5, max(height, 3.8)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels):
        _draw_panel(ax, rows, panel, layer_names or {}, best)
    axes[-1].set_xlabel("epoch")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    if best and best.get("epoch") is not None:
        _label_best(axes[0], best, max(int(r["epoch"]) for r in rows))
    fig.suptitle(title)
    return fig


def curve_figures(rows: list[dict[str, str]], title: str,
                  layer_names: dict[str, str] | None = None,
                  best: dict[str, Any] | None = None) -> dict[str, Figure]:  # fmt: skip
    """File stem -> figure, for every kind of curve the rows have columns for.

    layer_names maps a module path to a reader's label (`layer_labels(model)`); best is the
    summary's {"epoch", "monitor"}, marked on every panel.
    """
    if not rows:
        return {}
    return {
        stem: build_figure(rows, f"{title}: {what}", panels, layer_names, best)
        for stem, (what, panels) in figure_panels(list(rows[0].keys())).items()
    }


def plot_curves(rows: list[dict[str, str]], plots_dir: Path, title: str,
                layer_names: dict[str, str] | None = None,
                best: dict[str, Any] | None = None) -> list[Path]:  # fmt: skip
    """Write loss.png, metrics.png, lr.png and (when logged) grad_norms.png and
    model_stats.png; for a GAN
    also discriminator.png (D's mean output on real and on generated samples)."""
    paths = []
    for stem, fig in curve_figures(rows, title, layer_names, best).items():
        path = plots_dir / f"{stem}.png"
        atomic_write_bytes(path, lambda f, fig=fig: fig.savefig(f, format="png", dpi=110))
        paths.append(path)
    return paths
