"""What differs between tasks: outputs, loss, metrics. The trainer asks; it never branches.

Classification: cross-entropy over C logits, binary included (two logits, so the report's
`binary` section can name either class positive). Regression: mean squared error, the
cost of the seed note's linear regression. Segmentation: per-pixel cross-entropy that skips
`eval.ignore_index`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from mlcore.config import EvalConfig
from mlcore.metrics import (
    ConfusionAccumulator,
    RegressionAccumulator,
    classification_report,
    segmentation_report,
)

# Validation metrics each task logs per epoch, as `val/<name>`; the first is the default
# thing to report in `mlcore runs`.
VAL_METRICS = {
    "classification": ("accuracy", "f1"),
    "segmentation": ("miou", "pixel_accuracy"),
    "regression": ("rmse", "r2", "mse", "mae"),
}


@dataclass
class Task:
    name: str
    n_out: int  # outputs of the model per sample (per pixel for segmentation)
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    eval_cfg: EvalConfig
    class_names: list[str] | None = None

    def accumulator(self, device: torch.device) -> ConfusionAccumulator | RegressionAccumulator:
        if self.name == "regression":
            return RegressionAccumulator()
        ignore = self.eval_cfg.ignore_index if self.name == "segmentation" else None
        return ConfusionAccumulator(
            self.n_out, ignore_index=ignore, threshold=self.eval_cfg.threshold, device=device
        )

    def report(self, acc: ConfusionAccumulator | RegressionAccumulator, num_samples: int) -> dict:
        """The DESIGN.md report (without `split`, which the caller adds)."""
        if isinstance(acc, RegressionAccumulator):
            body = acc.compute()
        elif self.name == "segmentation":
            body = segmentation_report(acc.matrix, class_names=self.class_names)
            body["num_pixels"] = int(acc.matrix.sum())
        else:
            body = classification_report(
                acc.matrix,
                positive_class=self.eval_cfg.positive_class,
                class_names=self.class_names,
            )
        return {"task": self.name, "num_samples": num_samples, **body}

    def val_metrics(self, report: dict) -> dict[str, float]:
        """The per-epoch numbers that go into metrics.csv as `val/<name>`."""
        out = {}
        for name in VAL_METRICS[self.name]:
            value = report["macro"]["f1"] if name == "f1" else report[name]
            out[name] = float("nan") if value is None else float(value)
        return out


def make_task(
    task: str,
    num_classes: int | None,
    target_dim: int,
    eval_cfg: EvalConfig,
    class_names: list[str] | None = None,
) -> Task:
    if task == "regression":
        return Task("regression", target_dim, nn.functional.mse_loss, eval_cfg)
    assert num_classes is not None
    if task == "segmentation":
        ignore = eval_cfg.ignore_index if eval_cfg.ignore_index is not None else -100

        def seg_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return nn.functional.cross_entropy(out, y, ignore_index=ignore)  # (B,C,H,W) vs (B,H,W)

        return Task("segmentation", num_classes, seg_loss, eval_cfg, class_names)
    return Task("classification", num_classes, nn.functional.cross_entropy, eval_cfg, class_names)


def monitor_names(task: str) -> list[str]:
    return ["val/loss", "train/loss"] + [f"val/{m}" for m in VAL_METRICS[task]]
