"""Generated 2-D (and `line`: F-D) data sets, seeded by the run seed.

`data.n_samples` sets the size (default 1000) and `data.noise` the std of Gaussian noise
(defaults below, per set). Each generator draws from its own numpy Generator, so the data
never depends on (nor disturbs) the global RNG.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mlcore.config import DataConfig
from mlcore.data.sklearn_samples import make_circles, make_moons
from mlcore.data.source import Source, classes, pool_splits, regression

DEFAULT_N = 1000


def _n(cfg: DataConfig) -> int:
    return cfg.n_samples if cfg.n_samples is not None else DEFAULT_N


def _noise(cfg: DataConfig, default: float) -> float:
    return cfg.noise if cfg.noise is not None else default


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, 0xDA7A])


def _tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.int64))


def line(cfg: DataConfig, seed: int) -> Source:
    """y = x . w + b + noise, x uniform in [-1, 1]^F with F = len(w) (default w [2.0], b 0.5)."""
    w = np.asarray(cfg.w if cfg.w is not None else (2.0,), dtype=np.float64)
    b = float(cfg.b) if cfg.b is not None else 0.5
    rng = _rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(_n(cfg), len(w)))
    y = x @ w + b + _noise(cfg, 0.1) * rng.standard_normal(len(x))
    x_t, y_t = torch.from_numpy(x).float(), torch.from_numpy(y).float()[:, None]  # y [N, 1]
    source = regression(x_t, y_t, cfg, seed)
    source.extras = {"true_w": w.tolist(), "true_b": b}
    return source


def moons(cfg: DataConfig, seed: int) -> Source:
    x, y = make_moons(_n(cfg), noise=_noise(cfg, 0.1), seed=seed)
    return classes(*_tensors(x, y), cfg, seed, ["upper", "lower"])


def circles(cfg: DataConfig, seed: int) -> Source:
    x, y = make_circles(_n(cfg), noise=_noise(cfg, 0.05), factor=0.5, seed=seed)
    return classes(*_tensors(x, y), cfg, seed, ["outer", "inner"])


def spirals(cfg: DataConfig, seed: int, arms: int = 3) -> Source:
    """Three interleaved arms, 1.25 turns each: no straight line separates any arm from the
    rest (CS231n's spiral data, with radius-proportional turning and Gaussian jitter)."""
    rng = _rng(seed)
    y = np.arange(_n(cfg)) % arms
    t = rng.uniform(0.05, 1.0, size=len(y))  # radius; arms meet at the centre, start beside it
    angle = 2 * math.pi * (y / arms + 1.25 * t)
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    x += _noise(cfg, 0.04) * rng.standard_normal(x.shape)
    return classes(*_tensors(x, y), cfg, seed, [f"arm {k}" for k in range(arms)])


def _mixture(centres: np.ndarray, cfg: DataConfig, seed: int, default_std: float) -> Source:
    """Samples drawn evenly from Gaussians (std `noise`) at `centres` [K, 2]. The centres
    and the std travel with the data (`info`), so the GAN's coverage metric knows them.
    y is all zeros: there is nothing to predict."""
    rng = _rng(seed)
    std = _noise(cfg, default_std)
    mode = rng.integers(0, len(centres), size=_n(cfg))
    x = centres[mode] + std * rng.standard_normal((len(mode), 2))
    x_t, y_t = _tensors(x, np.zeros(len(mode)))
    train, val, test = pool_splits(x_t, y_t, cfg, seed, stratify=False)
    extras = {"centres": centres.round(6).tolist(), "mode_std": std}
    return Source("generation", train, val, test, extras=extras)


def gaussian_ring(cfg: DataConfig, seed: int, modes: int = 8, radius: float = 2.0) -> Source:
    """8 Gaussians (std default 0.02) on a circle of radius 2: the standard mode-collapse
    check for GANs (VEEGAN, Srivastava et al., NeurIPS 2017, section 5.1)."""
    angle = 2 * math.pi * np.arange(modes) / modes
    centres = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # [8, 2]
    return _mixture(centres, cfg, seed, default_std=0.02)


def gaussian_grid(cfg: DataConfig, seed: int, side: int = 5, spacing: float = 2.0) -> Source:
    """25 Gaussians (std default 0.05) on a 5x5 grid, centres at {-4, -2, 0, 2, 4}^2: the
    other standard mode-collapse check (VEEGAN section 5.1; PacGAN, Lin et al., 2018)."""
    ticks = spacing * (np.arange(side) - (side - 1) / 2)
    gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
    centres = np.stack([gx.ravel(), gy.ravel()], axis=1)  # [25, 2]
    return _mixture(centres, cfg, seed, default_std=0.05)
