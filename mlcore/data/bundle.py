"""build_data: a config and a seed in, the three splits and what they mean out.

Order matters: load and split (seeded); the deliberate changes of variants.py (shift, thinned
classes, planted test copies); then the contamination guard, on the raw features so
that its counts do not depend on fitted statistics; then normalization fitted on the training
split alone (after dedupe, which never changes train), or the statistics a checkpoint saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from mlcore.config import DataConfig
from mlcore.data.guard import guard
from mlcore.data.normalize import Stats, apply_stats, fit_stats, fit_target_stats
from mlcore.data.registry import get_dataset
from mlcore.data.source import Source, Split, TensorSplit, labels_of
from mlcore.data.variants import apply_variants

SPLITS = ("train", "val", "test")


@dataclass
class DataBundle:
    """Everything the trainer needs to know about the data; see DESIGN.md `data:`."""

    name: str
    task: str  # classification | regression | segmentation | generation
    train: Split
    val: Split
    test: Split
    input_shape: tuple[int, ...]  # one sample, e.g. (2,), (1, 8, 8), (1, 32, 32)
    num_classes: int | None  # None for regression and generation
    target_dim: int  # regression: number of outputs; otherwise 1
    class_names: list[str] | None
    stats: Stats | None  # {"mean": [...], "std": [...]} per feature or per channel
    preprocessing: dict[str, Any] | None  # the fitted feature encoding (csv), plain data
    # regression: the training targets' mean and std per output (the mean is also the
    # baseline's prediction); the task standardizes with them when data.standardize_target
    target_stats: Stats | None
    info: dict[str, Any]  # JSON-able: goes into summary.json["data"]


def build_data(
    cfg: DataConfig,
    seed: int,
    stats: Stats | None = None,
    preprocessing: dict[str, Any] | None = None,
    target_stats: Stats | None = None,
) -> DataBundle:
    """Load `cfg.name`, split it by `cfg.split` with `seed`, guard and normalize it.

    `stats`: normalization statistics saved with a checkpoint; applied instead of fitting
    (so `mlcore eval` sees exactly the inputs training saw). `preprocessing`: likewise, the
    feature encoding a checkpoint saved (only a loader that fits one receives it).
    `target_stats`: a regression target's mean and std saved with a checkpoint.
    """
    load = get_dataset(cfg.name)
    raw = load(cfg, seed) if preprocessing is None else load(cfg, seed, fitted=preprocessing)
    source = apply_variants(raw, cfg, seed)
    val, test, contamination = guard(source.train, source.val, source.test, cfg.dedupe)
    splits = {"train": source.train, "val": val, "test": test}
    stats_from = "checkpoint" if stats is not None else "train"
    if stats is None and cfg.normalize:
        stats = fit_stats(splits["train"])
    if stats is not None:
        splits = {k: apply_stats(v, stats) for k, v in splits.items()}
    shape = source.input_shape or _input_shape(splits["train"])
    info = _describe(cfg.name, source, splits, shape, stats, stats_from, contamination)
    if source.task == "regression":
        target_from = "checkpoint" if target_stats is not None else "train"
        target_stats = target_stats or fit_target_stats(splits["train"])
        info["target_normalization"] = {
            **target_stats,
            "fitted_on": target_from,
            "standardized": cfg.standardize_target,
        }
    else:
        target_stats = None
    return DataBundle(
        name=cfg.name,
        task=source.task,
        **splits,
        input_shape=shape,
        num_classes=source.num_classes,
        target_dim=source.target_dim,
        class_names=source.class_names,
        stats=stats,
        preprocessing=source.preprocessing,
        target_stats=target_stats,
        info=info,
    )


def build_data_or_published(
    cfg: DataConfig, seed: int
) -> tuple[DataBundle | None, tuple[tuple[int, ...], int, int, int] | None]:
    """(the data, None); or, for a torchvision set whose files are not here yet, (None, its
    published sizes: input shape, classes, train and test samples). For what needs only
    shapes (`summary`, `gpu-mem`), which people ask before they download."""
    from mlcore.data.files import PUBLISHED_SIZES
    from mlcore.errors import MlcoreError

    try:
        return build_data(cfg, seed=seed), None
    except MlcoreError:
        if cfg.name not in PUBLISHED_SIZES:
            raise
        return None, PUBLISHED_SIZES[cfg.name]


def _input_shape(split: Split) -> tuple[int, ...]:
    shape = split.x.shape[1:] if isinstance(split, TensorSplit) else split[0][0].shape
    return tuple(int(d) for d in shape)


def _class_counts(split: Split, num_classes: int) -> list[int]:
    """Samples per class; for segmentation, pixels per class."""
    labels = labels_of(split).reshape(-1)
    return torch.bincount(labels, minlength=num_classes).tolist()


def _describe(
    name: str,
    source: Source,
    splits: dict[str, Split],
    shape: tuple[int, ...],
    stats: Stats | None,
    stats_from: str,
    contamination: dict[str, int | bool],
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": name,
        "task": source.task,
        "sizes": {k: len(v) for k, v in splits.items()},
        "input_shape": list(shape),
        "num_classes": source.num_classes,
        "class_names": source.class_names,
        "normalization": None if stats is None else {**stats, "fitted_on": stats_from},
        "contamination": contamination,
    }
    if source.num_classes is not None:
        key = "pixel_counts" if source.task == "segmentation" else "class_counts"
        info[key] = {k: _class_counts(v, source.num_classes) for k, v in splits.items()}
    info.update(source.extras)
    return info
