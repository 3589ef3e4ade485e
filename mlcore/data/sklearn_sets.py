"""Small real data sets that ship inside scikit-learn (no download), read from its files
by sklearn_files.py.

digits      1,797 x (1, 8, 8) images, pixel values 0..16, 10 classes
iris          150 x 4, 3 classes (50 each); rows 101 and 142 are an exact duplicate pair
wine          178 x 13, 3 classes (59 / 71 / 48)
breast_cancer 569 x 30, 2 classes (212 malignant / 357 benign)
diabetes      442 x 10 (already mean-centred and scaled by sklearn), regression target 25..346
"""

from __future__ import annotations

import numpy as np
import torch

from mlcore.config import DataConfig
from mlcore.data import sklearn_files
from mlcore.data.source import Source, classes, regression


def _classes(name: str, cfg: DataConfig, seed: int, shape: tuple[int, ...] = ()) -> Source:
    table = sklearn_files.load(name)
    x = torch.from_numpy(table.data.astype(np.float32))
    if shape:
        x = x.reshape(-1, *shape)
    y = torch.from_numpy(table.target.astype(np.int64))
    return classes(x, y, cfg, seed, table.target_names)


def iris(cfg: DataConfig, seed: int) -> Source:
    return _classes("iris", cfg, seed)


def wine(cfg: DataConfig, seed: int) -> Source:
    return _classes("wine", cfg, seed)


def breast_cancer(cfg: DataConfig, seed: int) -> Source:
    return _classes("breast_cancer", cfg, seed)


def digits(cfg: DataConfig, seed: int) -> Source:
    return _classes("digits", cfg, seed, shape=(1, 8, 8))


def diabetes(cfg: DataConfig, seed: int) -> Source:
    data, target = sklearn_files.load_diabetes()
    x = torch.from_numpy(data.astype(np.float32))
    y = torch.from_numpy(target.astype(np.float32))[:, None]  # [N, 1]
    return regression(x, y, cfg, seed)
