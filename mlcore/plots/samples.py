"""A GAN's samples: a scatter over the real data (2-D sets) or an image grid (images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mlcore.atomic import atomic_write_bytes


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    return path


def plot_scatter(samples: torch.Tensor, real: torch.Tensor, centres: torch.Tensor | None,
                 path: Path, title: str) -> Path:  # fmt: skip
    """samples [N, 2] and real [M, 2] in the data's units; centres [K, 2] as crosses."""
    fig = Figure(figsize=(5.5, 5.5))
    ax = fig.add_subplot()
    r, s = real.numpy(), samples.numpy()
    ax.scatter(r[:, 0], r[:, 1], s=6, c="0.55", alpha=0.6, label=f"real ({len(r)})")
    if centres is not None:  # under the samples, so a collapsed mode shows as bare grey
        c = centres.numpy()
        ax.scatter(c[:, 0], c[:, 1], marker="+", s=60, c="tab:red", linewidths=0.8,
                   label="mode centres")  # fmt: skip
        pad = 1.0
        ax.set_xlim(c[:, 0].min() - pad, c[:, 0].max() + pad)
        ax.set_ylim(c[:, 1].min() - pad, c[:, 1].max() + pad)
    ax.scatter(s[:, 0], s[:, 1], s=2, c="tab:blue", alpha=0.4, label=f"generated ({len(s)})")
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3)
    return _save(fig, path)


def plot_grid(images: torch.Tensor, path: Path, title: str, limit: int = 64) -> Path:
    """The first `limit` of images [N, C, H, W] (C 1 or 3) in the data's units, on a square
    grid, each shown min-max scaled."""
    n = min(len(images), limit)
    columns = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    x = images[:n].float()
    lo = x.flatten(1).min(1).values.view(-1, 1, 1, 1)
    hi = x.flatten(1).max(1).values.view(-1, 1, 1, 1)
    x = ((x - lo) / (hi - lo).clamp_min(1e-8)).permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
    fig = Figure(figsize=(columns * 0.8, rows * 0.8 + 0.4))
    for i in range(n):
        ax = fig.add_subplot(rows, columns, i + 1)
        img = x[i, ..., 0] if x.shape[-1] == 1 else x[i]
        ax.imshow(img, cmap="gray_r" if x.shape[-1] == 1 else None, interpolation="nearest")
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)
