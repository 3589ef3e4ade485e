"""One shuffled epoch of batches (batch 64): mlcore's BatchLoader against torch's DataLoader
over a TensorDataset with default settings, on `digits` and on a 100k-sample `moons`.

Run by hand: `.venv/bin/python benchmarks/loader.py [--repeats 7]`. The two loaders take
turns (so drift in machine load hits both alike); each time is the median over repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterable

import torch
from torch.utils.data import DataLoader, TensorDataset

from mlcore.config import DataConfig, SplitConfig
from mlcore.data import build_data, make_loader

BATCH = 64


def _epoch_seconds(batches: Callable[[int], Iterable], epoch: int) -> float:
    start = time.perf_counter()
    for x, y in batches(epoch):
        x.sum(), y.sum()  # touch every batch, as a training step would
    return time.perf_counter() - start


def compare(name: str, n_samples: int | None, repeats: int) -> None:
    everything = SplitConfig(train=1.0, val=0.0, test=0.0)  # the epoch covers every sample
    bundle = build_data(DataConfig(name=name, n_samples=n_samples, split=everything), seed=0)
    x, y = bundle.train.x, bundle.train.y
    ours = make_loader(bundle.train, BATCH, shuffle=True, seed=0)
    torch_loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True)
    contenders = {"mlcore BatchLoader": ours.epoch, "torch DataLoader": lambda e: torch_loader}
    times: dict[str, list[float]] = {k: [] for k in contenders}
    for epoch in range(repeats + 1):  # epoch 0 warms up and is not counted
        for label, batches in contenders.items():
            seconds = _epoch_seconds(batches, epoch)
            if epoch:
                times[label].append(seconds)
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"{name}: {len(x)} training samples, {len(ours)} batches of {BATCH}")
    for label, seconds in median.items():
        print(f"  {label:<20} {seconds * 1e3:9.2f} ms/epoch")
    ratio = median["torch DataLoader"] / median["mlcore BatchLoader"]
    print(f"  DataLoader / BatchLoader = {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2 repeats, a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 2
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    compare("digits", None, args.repeats)
    compare("moons", 100_000, args.repeats)


if __name__ == "__main__":
    main()
