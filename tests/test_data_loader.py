"""BatchLoader: seeded per-epoch order, resume mid-epoch, rank shards, lazy splits, and the
split-size allocation it relies on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor
from torch.utils.data import Dataset

from mlcore.data import IndexedSplit, TensorSplit, make_loader
from mlcore.data.split import allocate, split_indices


def _split(n: int = 103) -> TensorSplit:
    # x holds the sample's own index, so a batch tells which samples it holds
    return TensorSplit(torch.arange(n, dtype=torch.float32)[:, None], torch.arange(n) % 5)


def _ids(batches) -> list[list[int]]:
    return [x.reshape(len(x), -1)[:, 0].long().tolist() for x, _ in batches]


class Counting(Dataset):
    """A lazy base data set that counts how many samples were decoded."""

    def __init__(self, n: int):
        self.n, self.loads = n, 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        self.loads += 1
        return torch.full((1, 2, 2), float(i)), i % 3


def _lazy(n: int = 50) -> IndexedSplit:
    return IndexedSplit(Counting(n), torch.arange(n), torch.arange(n) % 3)


@pytest.mark.parametrize("make", [_split, _lazy])
def test_resume_at_batch_k_sees_the_same_batches(make):
    loader = make_loader(make(), 8, shuffle=True, seed=1)
    full = _ids(loader.epoch(2))
    for k in (0, 1, 3, len(loader) - 1, len(loader)):
        assert _ids(loader.epoch(2, start=k)) == full[k:]


def test_skipped_batches_are_not_loaded():
    split = _lazy(40)
    loader = make_loader(split, 8, shuffle=True, seed=0)
    list(loader.epoch(0, start=3))
    assert split.base.loads == 40 - 3 * 8


def test_order_depends_on_seed_and_epoch_only():
    loader = make_loader(_split(), 16, shuffle=True, seed=0)
    e0, e1 = _ids(loader.epoch(0)), _ids(loader.epoch(1))
    assert e0 != e1
    torch.manual_seed(123)  # the global RNG plays no part ...
    state = torch.get_rng_state()
    assert _ids(make_loader(_split(), 16, shuffle=True, seed=0).epoch(0)) == e0
    assert torch.equal(torch.get_rng_state(), state)  # ... and is left untouched
    assert _ids(make_loader(_split(), 16, shuffle=True, seed=1).epoch(0)) != e0
    for batches in (e0, e1):
        assert sorted(sum(batches, [])) == list(range(103))  # each sample once an epoch


def test_batches_and_last_partial_batch():
    loader = make_loader(_split(10), 4, shuffle=False, seed=0)
    assert len(loader) == 3 and _ids(loader.epoch(0)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = next(iter(loader.epoch(0)))
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and y.tolist() == [0, 1, 2, 3]


def test_empty_split():
    loader = make_loader(_split(0), 4, shuffle=True, seed=0)
    assert len(loader) == 0 and list(loader.epoch(0)) == []
    lazy = make_loader(_lazy(0), 4, shuffle=True, seed=0)
    assert len(lazy) == 0 and list(lazy.epoch(0)) == []


@pytest.mark.parametrize("n", [96, 103])
def test_rank_shards(n):
    def shards(even: bool) -> list[list[int]]:
        loaders = [
            make_loader(_split(n), 5, shuffle=True, seed=0, rank=r, world_size=4, even=even)
            for r in range(4)
        ]
        assert len({len(loader) for loader in loaders}) == 1 or not even  # same step count
        return [sum(_ids(loader.epoch(3)), []) for loader in loaders]

    even = shards(even=True)
    assert {len(s) for s in even} == {-(-n // 4)}  # ceil(n / 4) each
    assert set(sum(even, [])) == set(range(n))
    if n % 4 == 0:
        assert sorted(sum(even, [])) == list(range(n))  # disjoint as well
    exact = shards(even=False)
    assert sorted(sum(exact, [])) == list(range(n))  # disjoint and covering
    assert max(map(len, exact)) - min(map(len, exact)) <= 1


def test_lazy_split_through_dataloader_workers(tmp_path):
    split = _lazy(30)
    inline = _ids(make_loader(split, 7, shuffle=True, seed=2).epoch(1))
    workers = make_loader(split, 7, shuffle=True, seed=2, num_workers=2)
    batches = list(workers.epoch(1, start=1))
    assert _ids(batches) == inline[1:]
    assert all(torch.equal(y, x[:, 0, 0, 0].long() % 3) for x, y in batches)


def test_tensors_move_to_the_device_once():
    loader = make_loader(_split(20), 4, shuffle=True, seed=0, device="meta")
    assert loader.x.device.type == "meta"  # placed at construction, batches index on-device


# ---- split sizes ----------------------------------------------------------------------------


def test_allocation_is_a_controlled_rounding():
    rng = np.random.default_rng(0)
    for _ in range(300):
        sizes = rng.integers(0, 30, size=rng.integers(1, 12)).tolist()
        raw = rng.random(3)
        raw[rng.integers(1, 3)] *= rng.random() < 0.2  # now and then an empty val or test
        fractions = tuple(raw / raw.sum())
        counts = allocate(sizes, fractions)
        exact = np.outer(sizes, fractions)
        assert np.array_equal(counts.sum(1), sizes)
        assert np.all(np.abs(counts - exact) < 1 + 1e-9)
        assert np.all(np.abs(counts.sum(0) - sum(sizes) * np.asarray(fractions)) < 1 + 1e-9)


def test_split_indices_partition_and_seed():
    labels = torch.arange(100) % 7
    parts = split_indices(100, (0.6, 0.2, 0.2), seed=0, labels=labels)
    assert sorted(torch.cat(parts).tolist()) == list(range(100))
    again = split_indices(100, (0.6, 0.2, 0.2), seed=0, labels=labels)
    assert all(torch.equal(a, b) for a, b in zip(parts, again, strict=True))
    other = split_indices(100, (0.6, 0.2, 0.2), seed=1, labels=labels)
    assert not torch.equal(parts[0], other[0])
