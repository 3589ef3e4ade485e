"""Seeded train/val/test splits, stratified by class.

Sizes are a controlled rounding of the table `n_c * f_s` (class c, split s): every cell is the
floor or the ceiling of its exact value, every class keeps all its samples, and every split's
total is within one of `n * f_s`. Rounding each class on its own (what two calls of
sklearn's train_test_split do) can put a split off by up to one sample per class.
Such a rounding always exists (Bacharach 1966, "Matrix rounding problems"); we find one by
rounding each class, then moving single samples along class paths between splits (a
bipartite augmenting path) until every split total lies within bounds.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

Fractions = tuple[float, float, float]


def _bounds(exact: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    exact = np.round(exact, 9)  # 0.7 * 100 is 69.99999999999999 in floating point
    return np.floor(exact).astype(np.int64), np.ceil(exact).astype(np.int64)


def allocate(class_sizes: list[int], fractions: Fractions) -> np.ndarray:
    """Per-class split sizes [K, 3] (columns train, val, test); see the module docstring."""
    sizes = np.asarray(class_sizes, dtype=np.int64)
    low, high = _bounds(np.outer(sizes, fractions))  # [K, 3]
    counts = low.copy()
    remainder = np.outer(sizes, fractions) - low
    for c in range(len(sizes)):  # each class hands its leftovers to its largest remainders
        order = np.argsort(-remainder[c], kind="stable")
        counts[c, order[: sizes[c] - counts[c].sum()]] += 1
    col_low, col_high = _bounds(sizes.sum() * np.asarray(fractions))
    for _ in range(int(sizes.sum()) + 1):
        totals = counts.sum(0)
        over = [s for s in range(3) if totals[s] > col_high[s]]
        under = [s for s in range(3) if totals[s] < col_low[s]]
        if not over and not under:
            return counts
        givers = over or [s for s in range(3) if totals[s] > col_low[s]]
        takers = under or [s for s in range(3) if totals[s] < col_high[s]]
        _shift(counts, low, high, givers, takers)
    raise AssertionError("split allocation did not converge")  # unreachable: see docstring


def _shift(
    counts: np.ndarray, low: np.ndarray, high: np.ndarray, givers: list[int], takers: list[int]
) -> None:
    """Move one sample from a giver split to a taker split, through intermediate splits if
    needed; each step moves a sample of one class whose cell can go down to a cell that can
    go up, so every cell stays the floor or the ceiling of its exact value."""
    parent: dict[int, tuple[int, int] | None] = {s: None for s in givers}
    queue = list(givers)
    while queue:
        s = queue.pop(0)
        if s in takers:
            while parent[s] is not None:
                prev, c = parent[s]
                counts[c, prev] -= 1
                counts[c, s] += 1
                s = prev
            return
        for t in range(3):
            if t in parent:
                continue
            ok = np.nonzero((counts[:, s] > low[:, s]) & (counts[:, t] < high[:, t]))[0]
            if len(ok):
                parent[t] = (s, int(ok[0]))
                queue.append(t)
    raise AssertionError("no augmenting path")  # unreachable for fractions summing to 1


def split_indices(
    n: int, fractions: Fractions, seed: int, labels: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Indices (sorted, int64) of the train, val and test samples among `n`.

    With `labels` ([n] int64) the split is stratified: each class is split by the fractions.
    The permutation comes from its own generator seeded by `seed`, never the global RNG.
    """
    rng = np.random.default_rng([seed, 0x5B117])  # a stream of its own, apart from data synthesis
    groups = [np.arange(n)] if labels is None else _groups(labels.numpy())
    counts = allocate([len(g) for g in groups], fractions)
    parts: list[list[np.ndarray]] = [[], [], []]
    for group, row in zip(groups, counts, strict=True):
        shuffled = rng.permutation(group)
        edges = np.cumsum(row)
        for s, chunk in enumerate(np.split(shuffled, edges[:2])):
            parts[s].append(chunk)
    train, val, test = (torch.from_numpy(np.sort(np.concatenate(p))).long() for p in parts)
    return train, val, test


def _groups(labels: np.ndarray) -> list[np.ndarray]:
    return [np.nonzero(labels == value)[0] for value in np.unique(labels)]


def carve_fractions(fractions: Fractions) -> Fractions:
    """Fractions to carve validation out of a fixed training set (test comes separately):
    val takes val / (train + val) of it."""
    train, val, _ = fractions
    share = val / (train + val)
    return (1.0 - share, share, 0.0)


def apportion(n: int, fractions: Fractions) -> list[int]:
    """`n` items shared by the fractions, each within one of `n * f` (largest remainder)."""
    return [int(v) for v in allocate([n], fractions)[0]]
