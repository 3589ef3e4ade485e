"""What a dataset loader hands to `build_data`: three splits plus what they mean.

Two kinds of split exist. `TensorSplit` keeps a whole split as two tensors, so the loader can
take a batch by indexing instead of collating samples one by one. `IndexedSplit` is a lazy view
(image folders): an index list into a base dataset, labels known up front (for stratification
and class counts without decoding images), and an optional per-channel normalization.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor
from torch.utils.data import Dataset

from mlcore.config import DataConfig
from mlcore.data.split import split_indices


@dataclass(eq=False)  # eq on tensors is elementwise: keep identity comparison
class TensorSplit(Dataset):
    """A split held in memory: x [N, ...] float32, y [N] int64 or [N, D] float32."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.x[index], self.y[index]

    def subset(self, keep: Tensor) -> TensorSplit:
        """Rows selected by an index or boolean mask."""
        return TensorSplit(self.x[keep], self.y[keep])


class IndexedSplit(Dataset):
    """A lazy split: sample i is `base[indices[i]]`, normalized per channel when stats are set."""

    def __init__(
        self,
        base: Dataset,
        indices: Tensor,
        targets: Tensor,
        mean: Tensor | None = None,
        std: Tensor | None = None,
    ):
        self.base = base
        self.indices = indices  # [N] int64 into base
        self.targets = targets  # [N] labels of those samples, read without decoding images
        self.mean = mean  # [C, 1, 1]
        self.std = std

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x, _ = self.base[int(self.indices[index])]
        if self.mean is not None and self.std is not None:
            x = (x - self.mean) / self.std
        return x, self.targets[index]

    def subset(self, keep: Tensor) -> IndexedSplit:
        return IndexedSplit(self.base, self.indices[keep], self.targets[keep], self.mean, self.std)

    def normalized(self, mean: Tensor, std: Tensor) -> IndexedSplit:
        return IndexedSplit(self.base, self.indices, self.targets, mean, std)


Split = TensorSplit | IndexedSplit


def labels_of(split: Split) -> Tensor:
    """The targets of a split without loading its features."""
    return split.y if isinstance(split, TensorSplit) else split.targets


@dataclass
class Source:
    """A dataset as its loader produced it: split, raw (not yet deduplicated nor normalized)."""

    task: str  # classification | regression | segmentation | generation
    train: Split
    val: Split
    test: Split
    num_classes: int | None = None
    class_names: list[str] | None = None
    target_dim: int = 1
    input_shape: tuple[int, ...] | None = None  # derived from train.x when None
    extras: dict[str, Any] = field(default_factory=dict)  # JSON-able, merged into info
    # what was fitted to encode the features (a CSV's column types, categories, medians):
    # plain data, saved in checkpoints so that eval, resume and predict encode alike
    preprocessing: dict[str, Any] | None = None


def pool_splits(
    x: Tensor, y: Tensor, cfg: DataConfig, seed: int, stratify: bool
) -> tuple[TensorSplit, TensorSplit, TensorSplit]:
    """Split one pool of samples by `cfg.split`, stratified by y when asked and allowed."""
    fractions = (cfg.split.train, cfg.split.val, cfg.split.test)
    labels = y if stratify and cfg.stratify else None
    parts = split_indices(int(x.shape[0]), fractions, seed, labels)
    train, val, test = (TensorSplit(x[i].contiguous(), y[i].contiguous()) for i in parts)
    return train, val, test


def classes(x: Tensor, y: Tensor, cfg: DataConfig, seed: int, names: list[str]) -> Source:
    """A classification Source from a pool: x float32 [N, ...], y int64 [N] in 0..K-1."""
    train, val, test = pool_splits(x, y, cfg, seed, stratify=True)
    return Source("classification", train, val, test, len(names), names)


def regression(x: Tensor, y: Tensor, cfg: DataConfig, seed: int) -> Source:
    """A regression Source from a pool: x float32 [N, F], y float32 [N, D]."""
    train, val, test = pool_splits(x, y, cfg, seed, stratify=False)
    return Source("regression", train, val, test, target_dim=int(y.shape[1]))
