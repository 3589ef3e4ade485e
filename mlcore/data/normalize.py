"""Standardization fitted on the training split only, then applied to every split.

Fitting on all the data would leak the validation and test distribution into training.
Statistics are per feature for tabular x [N, F] and per channel for images x [N, C, H, W];
std is the population std (correction 0), and a constant feature gets std 1 so that it maps
to 0 instead of dividing by zero. Regression targets get the same statistics (fit_target_stats),
which the task applies inside its loss and undoes in its reports: the split's y stay in the
target's own units.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mlcore.data.source import IndexedSplit, Split, TensorSplit
from mlcore.errors import MlcoreError

Stats = dict[str, list[float]]


def _reduce_dims(x: Tensor) -> tuple[int, ...]:
    # [N, F] -> over N; [N, C, H, W] -> over N, H, W (one value per channel)
    return (0,) if x.dim() == 2 else (0, *range(2, x.dim()))


def _as_stats(mean: Tensor, std: Tensor) -> Stats:
    std = torch.where(std > 0, std, torch.ones_like(std))
    return {"mean": mean.double().tolist(), "std": std.double().tolist()}


def fit_stats(train: Split) -> Stats:
    """Mean and std of the training features (see the module docstring)."""
    if isinstance(train, TensorSplit):
        # torch reduces float32 pairwise, accurate enough without a float64 copy of the data
        var, mean = torch.var_mean(train.x, _reduce_dims(train.x), correction=0)
        return _as_stats(mean, var.sqrt())
    return _fit_lazy(train)


def fit_target_stats(train: Split) -> Stats:
    """Mean and std per output of the training targets y [N, D] (population std, as above).

    Predicting a quantity in the thousands from standardized features, the default learning
    rate cannot move an output layer thousands of units (R² -23.9 before this); the model
    learns (y - mean) / std instead, which is near 0 with a spread of 1."""
    if isinstance(train, TensorSplit):
        y = train.y
    else:
        y = torch.stack([torch.as_tensor(train[i][1]) for i in range(len(train))])
    y = y.double().reshape(len(y), -1)
    if len(y) == 0:
        raise MlcoreError("data: the training split is empty, nothing to fit the target on")
    var, mean = torch.var_mean(y, 0, correction=0)
    return _as_stats(mean, var.sqrt())


def _fit_lazy(train: IndexedSplit) -> Stats:
    """Per-channel running sums over a lazy split: one pass that decodes each image once."""
    total = sq = None
    count = 0
    for i in range(len(train)):
        x = train[i][0].double()  # [C, H, W]
        flat = x.reshape(x.shape[0], -1)
        total = flat.sum(1) if total is None else total + flat.sum(1)
        sq = (flat**2).sum(1) if sq is None else sq + (flat**2).sum(1)
        count += flat.shape[1]
    if total is None or sq is None:
        raise MlcoreError("data: the training split is empty, nothing to fit normalization on")
    mean = total / count
    return _as_stats(mean, (sq / count - mean**2).clamp_min(0).sqrt())


def _shaped(stats: Stats, x_dim: int, width: int) -> tuple[Tensor, Tensor]:
    mean = torch.tensor(stats["mean"], dtype=torch.float32)
    std = torch.tensor(stats["std"], dtype=torch.float32)
    if mean.numel() != width or std.numel() != width:
        raise MlcoreError(
            f"data: normalization statistics have {mean.numel()} values but the data has "
            f"{width} features/channels; was the checkpoint trained on another data set?"
        )
    view = (1, width) if x_dim == 2 else (1, width) + (1,) * (x_dim - 2)
    return mean.view(view), std.view(view)


def apply_stats(split: Split, stats: Stats) -> Split:
    """The split standardized with `stats`; a lazy split normalizes as it loads."""
    if isinstance(split, TensorSplit):
        mean, std = _shaped(stats, split.x.dim(), int(split.x.shape[1]))
        return TensorSplit(((split.x - mean) / std).float(), split.y)
    mean, std = _shaped(stats, 4, len(stats["mean"]))
    return split.normalized(mean[0], std[0])  # [C, 1, 1] for one image
