"""Accumulators: the running state of an evaluation (one int64 confusion matrix, or the
regression sums), summed across processes once under DDP; reports come from metrics.py."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from mlcore.errors import MlcoreError
from mlcore.evaluation.metrics import confusion_matrix, regression_report, to_predictions


def _all_reduce_sum(x: Tensor) -> None:
    """Sum x in place across processes; a no-op outside torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(x, op=dist.ReduceOp.SUM)


class ConfusionAccumulator:
    """Holds only the int64 [C, C] matrix; reports are derived from it afterwards.

    device=None follows the device of the first update. Under DDP, call all_reduce() once,
    after the last update and before reading the matrix: it sums the matrices of all ranks.
    """

    def __init__(
        self,
        num_classes: int,
        ignore_index: int | None = None,
        threshold: float = 0.5,
        device: torch.device | str | None = None,
    ) -> None:
        if num_classes < 1:
            raise MlcoreError(f"num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= threshold <= 1.0:
            raise MlcoreError(f"threshold must be in [0, 1], got {threshold}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.threshold = threshold
        self._follow_inputs = device is None
        self._matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    def update(self, output: Tensor, target: Tensor) -> None:
        """Add a batch. output: indices, logits or probabilities (see to_predictions)."""
        preds = to_predictions(output.detach(), self.threshold)
        cm = confusion_matrix(preds, target.detach(), self.num_classes, self.ignore_index)
        if self._follow_inputs and self._matrix.device != cm.device:
            self._matrix = self._matrix.to(cm.device)  # C x C: cheap, once
        self._matrix += cm.to(self._matrix.device)

    def all_reduce(self) -> None:
        _all_reduce_sum(self._matrix)

    @property
    def matrix(self) -> Tensor:
        return self._matrix

    def reset(self) -> None:
        self._matrix.zero_()


class RegressionAccumulator:
    """Running sums only (float64), so memory stays the same however many batches come.

    State: n and, per output, the sums of squared error, absolute error, y and y^2.
    num_outputs may be left None; it is then taken from the first update (give it under DDP
    if a rank might see no batch). `target_stats` ({"mean": [D], "std": [D]}): the model
    predicts the standardized target, so each prediction is taken back to the target's units
    (pred * std + mean) before it is compared. `baseline_mean` [D]: the report gains the
    baseline of predicting it (the training split's mean) for every sample.
    """

    def __init__(
        self,
        num_outputs: int | None = None,
        device: torch.device | str | None = None,
        target_stats: dict[str, list[float]] | None = None,
        baseline_mean: list[float] | None = None,
    ) -> None:
        self.num_outputs = num_outputs
        self.device = device
        self.target_stats = target_stats
        self.baseline_mean = baseline_mean
        self.reset()

    def reset(self) -> None:
        self.n = 0
        # [4, D]: rows sse, sae, sum_y, sum_y2; None until the number of outputs is known.
        self._sums: Tensor | None = None
        if self.num_outputs is not None:
            self._sums = torch.zeros(4, self.num_outputs, dtype=torch.float64, device=self.device)

    def update(self, pred: Tensor, target: Tensor) -> None:
        p, t = _as_rows(pred.detach(), target.detach())  # [N, D] each
        if self._sums is None:
            dev = self.device if self.device is not None else t.device
            self._sums = torch.zeros(4, t.shape[1], dtype=torch.float64, device=dev)
        if t.shape[1] != self._sums.shape[1]:
            raise MlcoreError(f"expected {self._sums.shape[1]} outputs, got {t.shape[1]}")
        p = p.to(self._sums.device, torch.float64)
        t = t.to(self._sums.device, torch.float64)
        if self.target_stats is not None:  # float64, so the round trip adds no rounding
            p = p * p.new_tensor(self.target_stats["std"]) + p.new_tensor(self.target_stats["mean"])
        err = p - t
        self._sums += torch.stack([(err**2).sum(0), err.abs().sum(0), t.sum(0), (t**2).sum(0)])
        self.n += t.shape[0]

    def all_reduce(self) -> None:
        """Sum n and the sums across processes in one all_reduce; a no-op otherwise."""
        if not (dist.is_available() and dist.is_initialized()):
            return
        if self._sums is None:
            raise MlcoreError("RegressionAccumulator needs num_outputs to all_reduce before data")
        packed = torch.cat([self._sums.new_tensor([float(self.n)]), self._sums.reshape(-1)])
        _all_reduce_sum(packed)
        self.n = int(packed[0])
        self._sums = packed[1:].reshape(4, -1)

    def sums(self) -> dict:
        zeros = torch.zeros(4, 1, dtype=torch.float64)
        s = (self._sums if self._sums is not None else zeros).cpu()
        return {"n": self.n, "sse": s[0], "sae": s[1], "sum_y": s[2], "sum_y2": s[3]}

    def compute(self) -> dict:
        return regression_report(self.sums(), baseline_mean=self.baseline_mean)


def _as_rows(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Both as [N, D]. [N] and [N, 1] are the same single output; MPS has no float64."""
    if pred.device.type == "mps":
        pred, target = pred.cpu(), target.cpu()
    same = pred.numel() == target.numel() and pred.shape[:1] == target.shape[:1]
    if not same:
        raise MlcoreError(f"pred and target shapes differ: {tuple(pred.shape)} vs "
                          f"{tuple(target.shape)}")  # fmt: skip
    n = target.shape[0] if target.ndim > 0 else 1
    return pred.reshape(n, -1), target.reshape(n, -1)
