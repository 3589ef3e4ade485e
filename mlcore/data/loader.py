"""Batches for training and evaluation, resumable mid-epoch and shardable across processes.

The order of an epoch is a permutation drawn from a generator seeded by (seed, epoch) alone,
never from the global RNG: a run resumed at batch `start` of epoch e sees exactly the
batches an uninterrupted run would, and the skipped batches are never loaded.

In-memory splits (TensorSplit) are moved to the device once and batched by indexing with the
permutation: torch's DataLoader would fetch and collate every sample one at a time, which
costs more than a small model's whole step. Lazy splits (image folders) do go through a
DataLoader, with workers and pinned memory, fed with the same batches of indices.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from mlcore.data.source import TensorSplit


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> Tensor:
    """[n] int64: the sample order of one epoch, a function of (seed, epoch) only."""
    if not shuffle:
        return torch.arange(n)
    # SeedSequence mixes the pair into a well-spread 64-bit seed (seed + epoch would collide)
    mixed = int(np.random.SeedSequence([seed % 2**63, epoch]).generate_state(1, np.uint64)[0])
    generator = torch.Generator().manual_seed(mixed)
    return torch.randperm(n, generator=generator)


def shard(order: Tensor, rank: int, world_size: int, even: bool) -> Tensor:
    """This rank's part of `order`: every world_size-th sample from `rank` on.

    even: pad the order by wrapping around (as DistributedSampler does) so that every rank gets
    ceil(n / world_size) samples and takes the same number of steps (DDP needs that); the
    padding repeats a few samples. even=False gives disjoint shards that differ in size by at
    most one (for evaluation, where a repeated sample would be counted twice).
    """
    if world_size == 1:
        return order
    n = len(order)
    if even and n % world_size:
        total = math.ceil(n / world_size) * world_size
        order = order.repeat(math.ceil(total / n))[:total]
    return order[rank::world_size]


class BatchLoader:
    """Batches of one split for one process; `len` counts batches (the last may be partial)."""

    def __init__(
        self,
        split: Dataset,
        batch_size: int,
        shuffle: bool,
        seed: int,
        device: torch.device,
        num_workers: int = 0,
        rank: int = 0,
        world_size: int = 1,
        even: bool = True,
        drop_last: bool = False,
    ):
        if batch_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"bad batch_size={batch_size} or rank={rank}/{world_size}")
        self.split, self.batch_size, self.shuffle, self.seed = split, batch_size, shuffle, seed
        self.device, self.num_workers = device, num_workers
        self.rank, self.world_size, self.even = rank, world_size, even
        self.drop_last = drop_last
        self.num_samples = len(shard(torch.arange(len(split)), rank, world_size, even))
        self.in_memory = isinstance(split, TensorSplit)
        if self.in_memory:  # once, not per batch
            self.x, self.y = split.x.to(device), split.y.to(device)

    @property
    def forks_workers(self) -> bool:
        """Whether an epoch starts worker processes (a lazy split with num_workers > 0)."""
        return not self.in_memory and self.num_workers > 0

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def indices(self, epoch: int) -> Tensor:
        """This rank's sample order in `epoch` ([num_samples] int64)."""
        order = epoch_order(len(self.split), self.seed, epoch, self.shuffle)
        return shard(order, self.rank, self.world_size, self.even)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """Batches `start`, `start + 1`, ... of `epoch`, as (x, y) on the device."""
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        if self.in_memory:
            return self._tensor_batches(epoch, start)
        return self._lazy_batches(epoch, start)

    def _tensor_batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor]]:
        bs = self.batch_size
        if not self.shuffle and self.world_size == 1:  # in order: slices are views, no copy
            for b in range(start, len(self)):
                yield self.x[b * bs : (b + 1) * bs], self.y[b * bs : (b + 1) * bs]
            return
        order = self.indices(epoch)[start * bs : len(self) * bs].to(self.device)
        for i in range(0, len(order), bs):  # not order.split(bs): that yields one empty chunk
            idx = order[i : i + bs]
            yield self.x[idx], self.y[idx]

    def _lazy_batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor]]:
        bs = self.batch_size
        order = self.indices(epoch)[start * bs : len(self) * bs].tolist()
        batches = [order[i : i + bs] for i in range(0, len(order), bs)]
        if not batches:
            return
        cuda = torch.device(self.device).type == "cuda"
        loader = DataLoader(
            self.split, batch_sampler=batches, num_workers=self.num_workers, pin_memory=cuda
        )
        for x, y in loader:
            yield x.to(self.device, non_blocking=cuda), y.to(self.device, non_blocking=cuda)


def make_loader(
    split: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
    even: bool = True,
    drop_last: bool = False,
) -> BatchLoader:
    """A BatchLoader over `split`; see BatchLoader and `shard` for `even`. drop_last leaves
    out a final partial batch (training with batchnorm cannot take a batch of one)."""
    return BatchLoader(
        split,
        batch_size,
        shuffle,
        seed,
        torch.device(device),
        num_workers,
        rank,
        world_size,
        even,
        drop_last,
    )
