"""Small real data sets that ship inside scikit-learn (no download).

digits      1,797 x (1, 8, 8) images, pixel values 0..16, 10 classes
iris          150 x 4, 3 classes (50 each); rows 101 and 142 are an exact duplicate pair
wine          178 x 13, 3 classes (59 / 71 / 48)
breast_cancer 569 x 30, 2 classes (212 malignant / 357 benign)
diabetes      442 x 10 (already mean-centred and scaled by sklearn), regression target 25..346
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mlcore.config import DataConfig
from mlcore.data.source import Source, classes, regression


def _classes(bunch: Any, cfg: DataConfig, seed: int, shape: tuple[int, ...] = ()) -> Source:
    x = torch.from_numpy(bunch.data.astype(np.float32))
    if shape:
        x = x.reshape(-1, *shape)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    return classes(x, y, cfg, seed, [str(name) for name in bunch.target_names])


def iris(cfg: DataConfig, seed: int) -> Source:
    return _classes(_sklearn().load_iris(), cfg, seed)


def wine(cfg: DataConfig, seed: int) -> Source:
    return _classes(_sklearn().load_wine(), cfg, seed)


def breast_cancer(cfg: DataConfig, seed: int) -> Source:
    return _classes(_sklearn().load_breast_cancer(), cfg, seed)


def digits(cfg: DataConfig, seed: int) -> Source:
    return _classes(_sklearn().load_digits(), cfg, seed, shape=(1, 8, 8))


def diabetes(cfg: DataConfig, seed: int) -> Source:
    bunch = _sklearn().load_diabetes()
    x = torch.from_numpy(bunch.data.astype(np.float32))
    y = torch.from_numpy(bunch.target.astype(np.float32))[:, None]  # [N, 1]
    return regression(x, y, cfg, seed)


def _sklearn():
    """scikit-learn's datasets module, imported when a set is loaded (about 1 s)."""
    from sklearn import datasets

    return datasets
