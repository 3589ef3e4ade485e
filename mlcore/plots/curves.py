"""Training curves from metrics.csv: losses, the monitored metrics, learning rate, and
per-layer gradient norms.

Built with matplotlib's object API on the Agg canvas (no pyplot, no global backend switch),
written atomically like every file of a run.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mlcore.atomic import atomic_write_bytes

# A loss spanning more than this ratio is drawn on a log axis, or its tail looks flat.
LOG_RANGE = 30.0


def _series(rows: list[dict[str, str]], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for row in rows:
        if row.get(key) not in (None, ""):
            xs.append(int(row["epoch"]))
            ys.append(float(row[key]))
    return xs, ys


def _plot(rows: list[dict[str, str]], keys: list[str], path: Path, title: str, ylabel: str,
          logy: bool | None = None) -> Path:  # fmt: skip
    """One figure of `keys` against epoch; logy=None picks log when the range is wide."""
    fig = Figure(figsize=(7.5, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    many = len(keys) > 10
    colors = matplotlib.colormaps["tab20"] if many else None  # 20 distinct colours for many layers
    values = []
    for i, key in enumerate(keys):
        xs, ys = _series(rows, key)
        values += [y for y in ys if y > 0]
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=key,
                color=colors(i % 20) if colors else None)  # fmt: skip
    if logy is None:  # a log axis would drop values <= 0 (a GAN's hinge loss goes negative)
        signed = any(y <= 0 for key in keys for y in _series(rows, key)[1])
        logy = bool(values) and not signed and max(values) / min(values) > LOG_RANGE
    if logy:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if many:  # beside the axes, where it hides no curve
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=8)
    atomic_write_bytes(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    return path


def plot_curves(rows: list[dict[str, str]], plots_dir: Path, title: str) -> list[Path]:
    """Write loss.png, metrics.png, lr.png and (when logged) grad_norms.png, model_stats.png
    and weight_norm.png; for a GAN
    also discriminator.png (D's mean output on real and on generated samples)."""
    if not rows:
        return []
    keys = list(rows[0].keys())
    figures = [
        ("loss", [k for k in keys if k == "val/loss" or k.startswith("train/")
                  and k not in ("train/d_real", "train/d_fake")], "loss", None),
        ("discriminator", [k for k in ("train/d_real", "train/d_fake") if k in keys],
         "mean D(x): real and generated samples", False),
        ("metrics", [k for k in keys if k.startswith("val/")
                     and k not in ("val/loss", "val/dead_relu")], "validation metric", False),
        # trainer.log_model_stats: two fractions share an axis; the norm has its own scale
        ("model_stats", [k for k in ("weights/sparsity", "val/dead_relu") if k in keys],
         "fraction (weights below 1e-3, dead ReLU units)", False),
        ("weight_norm", [k for k in ("weights/norm",) if k in keys], "weight L2 norm", None),
        ("lr", ["lr"], "learning rate", None),
        ("grad_norms", [k for k in keys if k.startswith("grad/")],
         "gradient norm per layer (last step of each epoch)", True),
    ]  # fmt: skip
    return [
        _plot(rows, series, plots_dir / f"{name}.png", f"{title}: {ylabel}", ylabel, logy)
        for name, series, ylabel, logy in figures
        if series
    ]
