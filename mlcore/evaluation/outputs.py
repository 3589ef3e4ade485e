"""What `mlcore eval` leaves in the run directory: eval_<split>.json and its plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from mlcore.atomic import atomic_write_text
from mlcore.training.device import unwrap


def write_eval_outputs(run_dir: Path, report: dict[str, Any], parts: Any) -> list[Path]:
    """eval_<split>.json and the split's plots (with a `_last` suffix for last.pt, so the
    best checkpoint's files are never overwritten by another checkpoint's)."""
    path = Path(run_dir) / f"eval_{_stem(report)}.json"
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")
    return [path, *write_eval_plots(run_dir, report, parts)]


def _stem(report: dict[str, Any]) -> str:
    last = report.get("checkpoint") == "last"
    return f"{report['split']}_last" if last else report["split"]


def write_eval_plots(run_dir: Path, report: dict[str, Any], parts: Any) -> list[Path]:
    """plots/confusion_<split>.png, and plots/segmentation_<split>.png for segmentation."""
    split, stem = report["split"], _stem(report)
    run_dir = Path(run_dir)
    written: list[Path] = []
    if "confusion_matrix" not in report:
        return written
    from mlcore.plots.confusion import plot_confusion

    names = parts.data.class_names or [str(i) for i in range(len(report["confusion_matrix"]))]
    path = run_dir / "plots" / f"confusion_{stem}.png"
    plot_confusion(
        torch.tensor(report["confusion_matrix"]),
        names,
        path,
        title=f"{parts.config.run.name}: {split} split, {report.get('checkpoint', 'best')}.pt",
    )
    written.append(path)
    if report["task"] == "segmentation":
        written.append(_segmentation_samples(run_dir, split, stem, parts))
    return written


@torch.no_grad()
def _segmentation_samples(run_dir: Path, split: str, stem: str, parts: Any) -> Path:
    from mlcore.plots.confusion import plot_segmentation

    model = unwrap(parts.model).eval()
    x, y = next(iter(parts.loaders[split].epoch(0)))
    x, y = x[:4], y[:4]
    pred = model(x).argmax(dim=1)  # (B, C, H, W) -> (B, H, W)
    path = run_dir / "plots" / f"segmentation_{stem}.png"
    plot_segmentation(
        x.cpu(),
        y.cpu(),
        pred.cpu(),
        path,
        ignore_index=parts.config.eval.ignore_index,
        class_names=parts.data.class_names,
    )
    return path
