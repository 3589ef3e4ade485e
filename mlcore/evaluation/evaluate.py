"""Run a model over a split in eval() mode and turn the outputs into a DESIGN.md report.

The loop needs only what a task computes (its accumulator, loss and report), so it takes
anything that has them (`Scored`) and imports nothing from tasks.py: tasks.py calls the
loop, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, Protocol

import torch
from torch import nn

from mlcore.evaluation.accumulators import ConfusionAccumulator, RegressionAccumulator
from mlcore.evaluation.model_stats import DeadReluProbe, model_section


class Scored(Protocol):
    """What the loop asks of a task (tasks.Task has it)."""

    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def accumulator(self, device: torch.device) -> ConfusionAccumulator | RegressionAccumulator: ...

    def report(
        self, acc: ConfusionAccumulator | RegressionAccumulator, num_samples: int, headline: bool
    ) -> dict: ...


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Any,
    task: Scored,
    device: torch.device,
    distributed: bool = False,
    model_stats: bool = False,
    headline: bool = False,
) -> tuple[dict[str, Any], float]:
    """(report, mean loss) over every batch of `loader`.

    eval() mode: batchnorm uses its running statistics and dropout is off, so a sample's
    prediction does not depend on what else is in its batch. Metrics come from counts
    summed over the whole split, never from per-batch averages. With `model_stats` the
    report gains a `model` section (model_stats.py): weights, and ReLU units dead on the split.
    With `headline` the report holds only what an epoch logs (Task.report).
    """
    was_training = model.training
    model.eval()
    acc = task.accumulator(device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    count = torch.zeros((), dtype=torch.float64, device=device)
    probe = DeadReluProbe(model) if model_stats else None
    with probe if probe is not None else nullcontext():
        for x, y in loader.epoch(0):
            out = model(x)
            loss_sum += task.loss(out.float(), y).double() * len(x)
            count += len(x)
            acc.update(out, y)
    if distributed:
        acc.all_reduce()
        torch.distributed.all_reduce(loss_sum)
        torch.distributed.all_reduce(count)
        if probe is not None:
            probe.all_reduce()
    model.train(was_training)
    mean_loss = float(loss_sum / count) if count > 0 else float("nan")
    report = task.report(acc, int(count), headline)
    if probe is not None:
        report["model"] = model_section(model, probe)
    return report, mean_loss
