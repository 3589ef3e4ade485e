"""Confusion-matrix heatmap and segmentation side-by-sides, written atomically as PNG.

Figures are built with matplotlib's object API on the Agg canvas, never through pyplot:
no window opens, no global backend is switched (which would close a notebook's figures),
and concurrent calls share no state.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mlcore.atomic import atomic_write_bytes

# Beyond this many classes the per-cell counts are unreadable; the colours still tell.
MAX_ANNOTATED_CLASSES = 30
# Neutral colours: a background class is black (as in the inputs), an ignored pixel white
# (not scored, like the page); red is kept for the errors panel.
BACKGROUND_COLOR = (0.0, 0.0, 0.0, 1.0)
IGNORED_COLOR = (1.0, 1.0, 1.0, 1.0)
ERROR_COLOR = (1.0, 0.0, 0.0)


def _save_atomic(fig: Figure, path: str | os.PathLike) -> Path:
    """Write fig as PNG atomically: readers never see half a file."""
    path = Path(path)
    FigureCanvasAgg(fig)
    atomic_write_bytes(path, lambda f: fig.savefig(f, format="png", dpi=110))
    return path


def _as_array(x: torch.Tensor | np.ndarray | list) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.is_floating_point() else x).numpy()  # numpy has no bfloat16
    return np.asarray(x)


def plot_confusion(
    cm: torch.Tensor | np.ndarray | list,
    class_names: list[str] | None,
    path: str | os.PathLike,
    title: str = "Confusion matrix",
) -> Path:
    """Heatmap of a [C, C] count matrix (rows true, columns predicted) with counts in the cells.

    Colour is the row-normalised fraction (recall per true class), so small classes stay
    visible next to large ones; the numbers are the raw counts.
    """
    counts = _as_array(cm).astype(np.int64)  # [C, C]
    c = counts.shape[0]
    names = [str(n) for n in class_names] if class_names is not None else [str(i) for i in range(c)]
    rows = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)

    side = min(max(4.5, 0.45 * c + 2.5), 22.0)
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, shrink=0.8, label="fraction of the true class")
    ax.set(xticks=range(c), yticks=range(c), xlabel="predicted", ylabel="true", title=title)
    rotate = max(map(len, names)) > 3
    ax.set_xticklabels(names, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_yticklabels(names)
    if c <= MAX_ANNOTATED_CLASSES:
        size = 10 if c <= 10 else max(5, 12 - c // 4)
        for i in range(c):
            for j in range(c):
                color = "white" if frac[i, j] > 0.55 else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=color,
                        fontsize=size)  # fmt: skip
    return _save_atomic(fig, path)


def _display_image(img: np.ndarray) -> tuple[np.ndarray, str | None]:
    """[C, H, W] float -> an array imshow can draw, stretched to [0, 1] (inputs are normalised)."""
    img = img[:3] if img.shape[0] >= 3 else img[:1]
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    if img.shape[0] == 3:
        return img.transpose(1, 2, 0), None  # [H, W, 3]
    return img[0], "gray"  # [H, W]


def _class_colors(k: int, background: int | None) -> ListedColormap:
    """k class colours; the background class (if any) neutral black, like the inputs' own
    background, so the hues are left for the classes a reader looks for."""
    from matplotlib import colormaps

    fg = k - (background is not None)
    if fg <= 10:  # tab10 without its grey (too close to the background), gold instead
        colors = [colormaps["tab10"](i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)] + ["gold"]
    elif fg <= 20:
        colors = [colormaps["tab20"](i) for i in range(fg)]
    else:
        colors = [colormaps["turbo"](i / (fg - 1)) for i in range(fg)]
    colors = colors[:fg]
    if background is not None:
        colors.insert(background, BACKGROUND_COLOR)
    return ListedColormap(colors).with_extremes(bad=IGNORED_COLOR)  # masked = ignored pixels


def _error_overlay(picture: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """The input in dimmed grey with the wrong pixels in red: [H, W, 3]."""
    gray = picture.mean(axis=-1) if picture.ndim == 3 else picture  # [H, W] in [0, 1]
    rgb = np.repeat((0.15 + 0.55 * gray)[..., None], 3, axis=-1)
    rgb[wrong] = ERROR_COLOR
    return rgb


def segmentation_figure(
    images: torch.Tensor,
    targets: torch.Tensor,
    preds: torch.Tensor,
    ignore_index: int | None = None,
    max_items: int = 4,
    class_names: list[str] | None = None,
) -> Figure:
    """Input | ground truth | prediction | errors, one row per sample, for the first
    max_items samples.

    images: float [N, C, H, W]; targets and preds: class indices [N, H, W] (preds may also be
    logits [N, K, H, W]). Pixels whose target is ignore_index are left white (not scored);
    a class named "background" is black; the errors panel marks wrong pixels in red.
    """
    if preds.is_floating_point() and preds.ndim == 4:
        preds = preds.argmax(dim=1)  # logits [N, K, H, W] -> [N, H, W]
    n = min(max_items, images.shape[0])
    imgs, tgt, prd = (_as_array(x[:n]) for x in (images, targets, preds))
    tgt = tgt.astype(np.int64)  # so that e.g. ignore_index=-100 cannot match a uint8 value
    ignored = tgt == ignore_index if ignore_index is not None else np.zeros(tgt.shape, bool)
    k = len(class_names) if class_names else int(max(tgt[~ignored].max(initial=0), prd.max())) + 1
    k = max(k, 2)  # vmin < vmax
    names = [str(c) for c in class_names] if class_names else [str(i) for i in range(k)]
    lowered = [name.lower() for name in names]
    background = lowered.index("background") if "background" in lowered else None
    cmap = _class_colors(k, background)
    wrong = (prd != tgt) & ~ignored

    aspect = tgt.shape[1] / tgt.shape[2]  # H / W, so rows hug the images
    fig = Figure(figsize=(11.0, n * (2.6 * aspect + 0.3) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 4, squeeze=False)
    for i in range(n):
        picture, gray = _display_image(imgs[i])
        axes[i, 0].imshow(picture, cmap=gray)
        axes[i, 1].imshow(np.ma.masked_array(tgt[i], ignored[i]), cmap=cmap, vmin=0, vmax=k - 1,
                          interpolation="nearest")  # fmt: skip
        axes[i, 2].imshow(prd[i], cmap=cmap, vmin=0, vmax=k - 1, interpolation="nearest")
        axes[i, 3].imshow(_error_overlay(picture, wrong[i]), interpolation="nearest")
        share = wrong[i].sum() / max(int((~ignored[i]).sum()), 1)
        titles = ("input", "ground truth", "prediction", f"errors: {share:.1%} wrong")
        for j, label in enumerate(titles):
            axes[i, j].set_title(f"#{i} {label}", fontsize=9)
            axes[i, j].set_axis_off()
    _segmentation_legend(fig, cmap, names, np.union1d(np.unique(tgt[~ignored]), np.unique(prd)),
                         ignore_index if ignored.any() else None)  # fmt: skip
    return fig


def _segmentation_legend(fig: Figure, cmap: ListedColormap, names: list[str],
                         shown: np.ndarray, ignore_index: int | None) -> None:  # fmt: skip
    k = len(names)
    handles = [Patch(facecolor=cmap(int(c)), edgecolor="0.5", label=names[int(c)])
               for c in shown if 0 <= c < k]  # fmt: skip
    if ignore_index is not None:
        handles.append(Patch(facecolor=IGNORED_COLOR, edgecolor="0.5",
                             label=f"ignored ({ignore_index})"))  # fmt: skip
    handles.append(Patch(facecolor=ERROR_COLOR, label="wrong pixel (errors)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 7),
               fontsize=8, frameon=False)  # fmt: skip


def plot_segmentation(
    images: torch.Tensor,
    targets: torch.Tensor,
    preds: torch.Tensor,
    path: str | os.PathLike,
    ignore_index: int | None = None,
    max_items: int = 4,
    class_names: list[str] | None = None,
) -> Path:
    """segmentation_figure(...) written as a PNG."""
    fig = segmentation_figure(images, targets, preds, ignore_index, max_items, class_names)
    return _save_atomic(fig, path)
