"""scikit-learn's `make_moons` and `make_circles`, drawn as sklearn 1.x draws them (same
arrays for the same arguments; tests/test_data.py compares them), without importing
scikit-learn: its import takes about 0.8 s (see sklearn_files.py), far longer than
drawing a thousand points.

Both put n // 2 points on an outer curve (class 0) and the rest on an inner one (class 1),
shuffle them (`sklearn.utils.shuffle`: `RandomState.shuffle` of the indices) and add
Gaussian noise, drawing from one `RandomState(seed)` in that order.
"""

from __future__ import annotations

import numpy as np


def make_moons(n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: x float64 [N, 2], y int [N]."""
    n_out, n_in = n_samples // 2, n_samples - n_samples // 2
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    xs = np.append(np.cos(outer), 1 - np.cos(inner))
    ys = np.append(np.sin(outer), 1 - np.sin(inner) - 0.5)
    return _shuffled_with_noise(xs, ys, n_out, n_in, noise, seed)


def make_circles(
    n_samples: int, noise: float, factor: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A circle inside another (radius `factor` of the outer): x float64 [N, 2], y int [N]."""
    n_out, n_in = n_samples // 2, n_samples - n_samples // 2
    outer = np.linspace(0, 2 * np.pi, n_out, endpoint=False)  # no first point = last point
    inner = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    xs = np.append(np.cos(outer), np.cos(inner) * factor)
    ys = np.append(np.sin(outer), np.sin(inner) * factor)
    return _shuffled_with_noise(xs, ys, n_out, n_in, noise, seed)


def _shuffled_with_noise(
    xs: np.ndarray, ys: np.ndarray, n_out: int, n_in: int, noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    x = np.vstack([xs, ys]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    rng = np.random.RandomState(seed)
    order = np.arange(len(y))
    rng.shuffle(order)
    x, y = x[order], y[order]
    x += rng.normal(scale=noise, size=x.shape)
    return x, y
