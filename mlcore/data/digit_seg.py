"""digit_seg: semantic segmentation canvases composed from the real sklearn digits.

Each 32x32 canvas holds 2 or 3 digits, upscaled bilinearly from 8x8 to 12x12 or 16x16 and
placed in distinct 16x16 quadrants (so they never overlap). The mask is 0 for background and
1 + digit where the digit's ink exceeds INK of full intensity: 11 classes.

The source digits are split first (stratified by digit) and each split's canvases use only
its own sources, so no test canvas shows a digit image that a training canvas showed.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mlcore.config import DataConfig
from mlcore.data import sklearn_files
from mlcore.data.source import Source, TensorSplit
from mlcore.data.split import apportion, split_indices
from mlcore.errors import MlcoreError

CANVAS = 32
SIZES = (12, 16)
INK = 0.3  # of full intensity: below it a pixel is background, not the digit's edge blur
DEFAULT_N = 600
CLASS_NAMES = ["background"] + [str(d) for d in range(10)]


def _upscaled(images: torch.Tensor) -> dict[int, np.ndarray]:
    """images [N, 8, 8] in [0, 1] -> {size: [N, size, size]} for each size in SIZES."""
    x = images[:, None]  # [N, 1, 8, 8]
    return {
        s: F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False)[:, 0].numpy()
        for s in SIZES
    }


def _compose(
    sources: np.ndarray,
    glyphs: dict[int, np.ndarray],
    labels: np.ndarray,
    n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """n canvases from the source indices `sources`: x [n, 32, 32] float, y [n, 32, 32] int."""
    if n and not len(sources):
        raise MlcoreError("data.split: a split this small gets no source digits for digit_seg")
    x = np.zeros((n, CANVAS, CANVAS), dtype=np.float32)
    y = np.zeros((n, CANVAS, CANVAS), dtype=np.int64)
    half = CANVAS // 2
    for i in range(n):
        count = int(rng.integers(2, 4))
        for quadrant in rng.permutation(4)[:count]:
            src = int(rng.choice(sources))
            size = int(rng.choice(SIZES))
            top = (quadrant // 2) * half + int(rng.integers(0, half - size + 1))
            left = (quadrant % 2) * half + int(rng.integers(0, half - size + 1))
            glyph = glyphs[size][src]
            x[i, top : top + size, left : left + size] = glyph
            y[i, top : top + size, left : left + size] = np.where(glyph > INK, 1 + labels[src], 0)
    return x, y


def digit_seg(cfg: DataConfig, seed: int) -> Source:
    table = sklearn_files.load("digits")
    pixels = table.data.reshape(-1, 8, 8).astype(np.float32)
    images = torch.from_numpy(pixels / 16.0)  # [1797, 8, 8]
    labels = table.target.astype(np.int64)
    fractions = (cfg.split.train, cfg.split.val, cfg.split.test)
    strata = torch.from_numpy(labels) if cfg.stratify else None
    source_parts = split_indices(len(labels), fractions, seed, strata)
    n = cfg.n_samples if cfg.n_samples is not None else DEFAULT_N
    glyphs = _upscaled(images)
    noise = cfg.noise or 0.0
    splits = []
    for k, (part, count) in enumerate(zip(source_parts, apportion(n, fractions), strict=True)):
        rng = np.random.default_rng([seed, 0x5E6, k])  # one stream per split
        x, y = _compose(part.numpy(), glyphs, labels, count, rng)
        x = x + noise * rng.standard_normal(x.shape).astype(np.float32) if noise else x
        splits.append(TensorSplit(torch.from_numpy(x)[:, None], torch.from_numpy(y)))
    sizes = [len(part) for part in source_parts]
    extras = {"source_digits": dict(zip(("train", "val", "test"), sizes, strict=True))}
    return Source("segmentation", *splits, num_classes=11, class_names=CLASS_NAMES, extras=extras)
