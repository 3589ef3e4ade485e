"""Training curves from metrics.csv: losses, the monitored metrics, learning rate, and
per-layer gradient norms. Each figure is written atomically (temp file + rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _figure():
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
        fig.clf()


def _series(rows: list[dict[str, str]], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for row in rows:
        if row.get(key) not in (None, ""):
            xs.append(int(row["epoch"]))
            ys.append(float(row[key]))
    return xs, ys


def plot_curves(rows: list[dict[str, str]], plots_dir: Path, title: str) -> list[Path]:
    """Write loss.png, metrics.png, lr.png and (when logged) grad_norms.png."""
    if not rows:
        return []
    plt = _figure()
    keys = list(rows[0].keys())
    written = []

    def one(name: str, series: list[str], ylabel: str, logy: bool = False) -> None:
        present = [k for k in series if k in keys]
        if not present:
            return
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for key in present:
            xs, ys = _series(rows, key)
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        if logy:
            ax.set_yscale("log")
        ax.set_title(f"{title}: {ylabel}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=2 if len(present) > 6 else 1)
        path = plots_dir / f"{name}.png"
        save_figure(fig, path)
        plt.close(fig)
        written.append(path)

    one("loss", ["train/loss", "val/loss", "train/data_loss", "train/penalty"], "loss")
    metric_keys = [k for k in keys if k.startswith("val/") and k != "val/loss"]
    one("metrics", metric_keys, "validation metric")
    one("lr", ["lr"], "learning rate", logy=True)
    grad_keys = [k for k in keys if k.startswith("grad/")]
    one("grad_norms", grad_keys, "gradient norm per layer", logy=True)
    return written
