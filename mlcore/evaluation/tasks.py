"""What differs between tasks: outputs, loss, metrics. The trainer asks; it never branches.

Classification: cross-entropy over C logits, binary included (two logits, so the report's
`binary` section can name either class positive). Regression: mean squared error, the
cost of the study note's linear regression, on the target standardized with the training
split's mean and std (data.standardize_target); its reports take predictions back to the
target's units and hold the baseline of predicting the training mean. Segmentation:
per-pixel cross-entropy that skips `eval.ignore_index`. Generation (a GAN): no loss to
validate; validation draws a fixed batch of samples and a judge scores it (judges.py,
generation_metrics.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlcore.config import EvalConfig
from mlcore.evaluation.accumulators import ConfusionAccumulator, RegressionAccumulator
from mlcore.evaluation.evaluate import evaluate
from mlcore.evaluation.metrics import (
    classification_headline,
    classification_report,
    segmentation_report,
)

# Validation metrics each task logs per epoch, as `val/<name>`; the first is the default
# thing to report in `mlcore runs`.
VAL_METRICS = {
    "classification": ("accuracy", "f1"),
    "segmentation": ("miou", "pixel_accuracy"),
    "regression": ("rmse", "r2", "mse", "mae"),
    "generation": ("score", "quality", "coverage", "kl"),
}


@dataclass
class Task:
    name: str
    n_out: int  # outputs of the model per sample (per pixel for segmentation)
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    eval_cfg: EvalConfig
    class_names: list[str] | None = None
    # regression: the training targets' mean and std; `standardized`: the model predicts
    # (y - mean) / std, which the loss compares with and the reports undo
    target_stats: dict[str, list[float]] | None = None
    standardized: bool = False

    def accumulator(self, device: torch.device) -> ConfusionAccumulator | RegressionAccumulator:
        if self.name == "regression":
            stats = self.target_stats
            return RegressionAccumulator(
                target_stats=stats if self.standardized else None,
                baseline_mean=stats["mean"] if stats else None,
            )
        ignore = self.eval_cfg.ignore_index if self.name == "segmentation" else None
        return ConfusionAccumulator(
            self.n_out, ignore_index=ignore, threshold=self.eval_cfg.threshold, device=device
        )

    def report(
        self,
        acc: ConfusionAccumulator | RegressionAccumulator,
        num_samples: int,
        headline: bool = False,
    ) -> dict:
        """The DESIGN.md report (without `split`, which the caller adds). `headline`: only
        what `val_metrics` reads, where that is cheaper (classification), for every epoch."""
        if isinstance(acc, RegressionAccumulator):
            body = acc.compute()
        elif self.name == "segmentation":
            body = segmentation_report(acc.matrix, class_names=self.class_names)
            body["num_pixels"] = int(acc.matrix.sum())
        elif headline:
            body = classification_headline(acc.matrix)
        else:
            body = classification_report(
                acc.matrix,
                positive_class=self.eval_cfg.positive_class,
                class_names=self.class_names,
            )
        return {"task": self.name, "num_samples": num_samples, **body}

    has_val_loss = True  # val/loss is a column

    def evaluate(
        self,
        model: nn.Module,
        loader: Any,
        device: torch.device,
        distributed: bool = False,
        model_stats: bool = False,
        headline: bool = False,
    ) -> tuple[dict[str, Any], float]:
        return evaluate(model, loader, self, device, distributed, model_stats, headline)

    def epoch_end(self, model: nn.Module, epoch: int, last: bool, plots: Path) -> None:
        """Per-epoch outputs beyond metrics.csv (a GAN's sample plots); none here."""

    def save(self, run_dir: Path) -> None:
        """What the task keeps beside the checkpoints (a GAN's judge); none here."""

    def val_metrics(self, report: dict) -> dict[str, float]:
        """The per-epoch numbers that go into metrics.csv as `val/<name>`."""
        out = {}
        for name in VAL_METRICS[self.name]:
            value = report["macro"]["f1"] if name == "f1" else report[name]
            out[name] = float("nan") if value is None else float(value)
        return out


class StandardizedMSE:
    """The mean squared error of the standardized target: mean(((out - (y - mean) / std))^2),
    for a model whose outputs are standardized predictions. Equal to the MSE in the target's
    units divided by the training variance, so its gradients do not grow with the units."""

    def __init__(self, stats: dict[str, list[float]]) -> None:
        self.stats = stats
        self._on: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        key = (y.device, y.dtype)
        if key not in self._on:  # made once per device, not in every step
            self._on[key] = (
                torch.tensor(self.stats["mean"], dtype=y.dtype, device=y.device),
                torch.tensor(self.stats["std"], dtype=y.dtype, device=y.device),
            )
        mean, std = self._on[key]
        return nn.functional.mse_loss(out, (y - mean) / std)


def make_task(
    task: str,
    num_classes: int | None,
    target_dim: int,
    eval_cfg: EvalConfig,
    class_names: list[str] | None = None,
    target_stats: dict[str, list[float]] | None = None,
    standardize: bool = False,
) -> Task:
    """`target_stats` with `standardize`: a regression trained on the standardized target."""
    if task == "regression":
        scaled = standardize and target_stats is not None
        loss = StandardizedMSE(target_stats) if scaled else nn.functional.mse_loss
        return Task("regression", target_dim, loss, eval_cfg, None, target_stats, scaled)
    assert num_classes is not None
    if task == "segmentation":
        ignore = eval_cfg.ignore_index if eval_cfg.ignore_index is not None else -100

        def seg_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return nn.functional.cross_entropy(out, y, ignore_index=ignore)  # (B,C,H,W) vs (B,H,W)

        return Task("segmentation", num_classes, seg_loss, eval_cfg, class_names)
    return Task("classification", num_classes, nn.functional.cross_entropy, eval_cfg, class_names)


class GenerationTask:
    """A GAN's task: validation samples `eval.num_samples` points from fixed latents (the
    same every epoch, drawn from a generator of their own) and lets the judge score them."""

    name = "generation"
    n_out = 0
    has_val_loss = False

    def __init__(self, judge: Any, eval_cfg: EvalConfig, seed: int, sample_every: int,
                 plot: Callable[[torch.Tensor, Path, str], None]):  # fmt: skip
        self.judge, self.eval_cfg, self.seed = judge, eval_cfg, seed
        self.sample_every, self.plot = sample_every, plot
        self.class_names = None

    def samples(self, model: nn.Module, n: int, seed: int | None = None) -> torch.Tensor:
        from mlcore.training.device import unwrap

        latents = torch.Generator().manual_seed(self.seed if seed is None else seed)
        return unwrap(model).sample(n, generator=latents)

    def evaluate(
        self,
        model: nn.Module,
        loader: Any,
        device: torch.device,
        distributed: bool = False,
        model_stats: bool = False,  # not measured for a GAN: its samples are not a split
        headline: bool = False,  # the judge's report is what the epoch logs
    ) -> tuple[dict[str, Any], float]:
        """Under DDP rank 0 samples and judges, and every rank gets its report: the ranks
        must agree exactly on best epochs and early stopping, and judging once is enough
        (every rank holds the same weights)."""
        report = None
        if not distributed or torch.distributed.get_rank() == 0:
            report = self.judge().report(self.samples(model, self.eval_cfg.num_samples))
        if distributed:
            from mlcore.training.device import from_rank0

            report = from_rank0(report)
        return {"task": self.name, "num_samples": self.eval_cfg.num_samples, **report}, math.nan

    def val_metrics(self, report: dict) -> dict[str, float]:
        from mlcore.evaluation.generation_metrics import headline

        return headline(report)

    def epoch_end(self, model: nn.Module, epoch: int, last: bool, plots: Path) -> None:
        """plots/samples_epoch_NNN.png every `sample_every` epochs; samples.png with it and
        at the last epoch. The latents are the fixed ones, so the frames compare."""
        due = self.sample_every > 0 and epoch % self.sample_every == 0
        if not (due or last):
            return
        x = self.samples(model, self.eval_cfg.num_samples).cpu()
        if due:
            self.plot(x, plots / f"samples_epoch_{epoch:03d}.png", f"epoch {epoch}")
        self.plot(x, plots / "samples.png", f"epoch {epoch}")

    def save(self, run_dir: Path) -> None:
        self.judge().save(run_dir)


def monitor_names(task: str) -> list[str]:
    gan = task == "generation"  # a GAN has no val/loss nor train/loss
    train = ["train/d_loss", "train/g_loss"] if gan else ["val/loss", "train/loss"]
    return train + [f"val/{m}" for m in VAL_METRICS[task]]
