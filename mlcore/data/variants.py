"""Changes made to a data set on purpose, for the studies of docs/experiments.md: move it away from
the origin (`data.shift`), thin classes to make it imbalanced (`data.class_fraction`), and
contaminate its test split with training samples (`data.contaminate`).

They act on the raw splits, before the contamination guard and normalization: a shift is
seen by a model only with `data.normalize: false` (standardization would take it out again),
and planted copies are what the guard counts and `data.dedupe` drops. Each draws from its own
seeded generator, so the rest of the data is the same with or without it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mlcore.config import DataConfig
from mlcore.data.source import Source, Split, TensorSplit, labels_of
from mlcore.errors import MlcoreError


def apply_variants(source: Source, cfg: DataConfig, seed: int) -> Source:
    """`source` with the config's deliberate changes; unchanged when none is set."""
    if cfg.class_fraction is not None:
        _thin_classes(source, cfg.class_fraction, seed)
    if any(_as_list(cfg.shift)):
        _shift(source, _as_list(cfg.shift), cfg.name)
    if cfg.contaminate:
        _contaminate(source, cfg.contaminate, seed, cfg.name)
    return source


def _in_memory(split: Split, key: str, name: str) -> TensorSplit:
    if not isinstance(split, TensorSplit):
        raise MlcoreError(f"data.{key} applies to in-memory data sets, not {name} (read lazily)")
    return split


def _as_list(shift: float | list[float]) -> list[float]:
    return list(shift) if isinstance(shift, list | tuple) else [shift]


def _shift(source: Source, shift: list[float], name: str) -> None:
    """Add the offset to the features of every split: the same data, centred elsewhere.
    One value moves every feature alike; a list gives each feature its own ([F] for x [N, F])."""
    for part in ("train", "val", "test"):
        split = _in_memory(getattr(source, part), "shift", name)
        offset = torch.tensor(shift, dtype=split.x.dtype)
        if len(shift) > 1 and (split.x.dim() != 2 or split.x.shape[1] != len(shift)):
            raise MlcoreError(
                f"data.shift has {len(shift)} values but {name} has "
                f"{tuple(split.x.shape[1:])} features; give one number or one per feature"
            )
        setattr(source, part, TensorSplit(split.x + offset, split.y))


def _thin_classes(source: Source, fractions: list[float], seed: int) -> None:
    """Keep ceil(f_c * n) of class c's samples in each split (at least one where it had any),
    chosen at random: each split keeps the imbalance, and the stratified split stays."""
    if source.task != "classification":
        raise MlcoreError(f"data.class_fraction applies to classification, not {source.task}")
    if len(fractions) != source.num_classes:
        raise MlcoreError(
            f"data.class_fraction has {len(fractions)} values but the data has "
            f"{source.num_classes} classes ({', '.join(map(str, source.class_names or []))})"
        )
    rng = np.random.default_rng([seed, 0xC1A55])
    for part in ("train", "val", "test"):
        split = getattr(source, part)
        labels = labels_of(split).numpy()
        keep = np.zeros(len(labels), dtype=bool)
        for c, f in enumerate(fractions):
            members = np.nonzero(labels == c)[0]
            n = min(len(members), max(1, math.ceil(f * len(members)))) if len(members) else 0
            keep[rng.choice(members, size=n, replace=False)] = True
        setattr(source, part, split.subset(torch.from_numpy(np.nonzero(keep)[0])))


def _contaminate(source: Source, fraction: float, seed: int, name: str) -> None:
    """Replace round(fraction * n) random test samples by exact copies of random training
    samples (features and labels): a test split that partly repeats what was trained on."""
    train = _in_memory(source.train, "contaminate", name)
    test = _in_memory(source.test, "contaminate", name)
    n = round(fraction * len(test))
    if n == 0:
        return
    rng = np.random.default_rng([seed, 0x1EA4])
    slots = torch.from_numpy(rng.choice(len(test), size=n, replace=False))
    # distinct training samples where there are enough (a test split larger than train
    # under contaminate 1.0 repeats some)
    copies = torch.from_numpy(rng.choice(len(train), size=n, replace=n > len(train)))
    x, y = test.x.clone(), test.y.clone()
    x[slots], y[slots] = train.x[copies], train.y[copies]
    source.test = TensorSplit(x, y)
