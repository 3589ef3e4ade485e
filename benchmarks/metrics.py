"""mlcore.metrics against scikit-learn (and torchmetrics, when installed), and memory per batch.

    python benchmarks/metrics.py            # 10M predictions / 4x1024x2048 pixels, ~1-2 min
    python benchmarks/metrics.py --quick    # 1M / 1x512x1024, a few seconds

Times are the median of several repeats of the whole path from predictions to numbers:
mlcore = confusion_matrix + the full report; scikit-learn = confusion_matrix +
precision_recall_fscore_support(average=None), the least it needs for the same per-class
numbers (macro / weighted / micro are then cheap). Ignored pixels are dropped inside each timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import sklearn
import torch
from sklearn import metrics as skm

from mlcore.metrics import (
    ConfusionAccumulator,
    classification_report,
    confusion_matrix,
    segmentation_report,
)


def _median_seconds(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _data(shape: tuple[int, ...], classes: int, ignore_frac: float, seed: int = 0):
    """(preds, target) int64 of the given shape: 70% correct, ignore_frac of targets = 255."""
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(classes, shape, generator=g)
    noise = torch.randint(classes, shape, generator=g)
    preds = torch.where(torch.rand(shape, generator=g) < 0.7, target, noise)
    if ignore_frac > 0:
        target[torch.rand(shape, generator=g) < ignore_frac] = 255
    return preds, target


def _bench_case(name, shape, classes, ignore, args, sync, rows) -> None:
    preds, target = _data(shape, classes, 0.1 if ignore is not None else 0.0)
    p_np, t_np = preds.numpy().ravel(), target.numpy().ravel()  # zero-copy views
    preds, target = preds.to(args.device), target.to(args.device)
    report = segmentation_report if ignore is not None else classification_report

    def ours():
        return report(confusion_matrix(preds, target, classes, ignore_index=ignore))

    def sklearn():
        p, t = (p_np, t_np) if ignore is None else (p_np[t_np != ignore], t_np[t_np != ignore])
        cm = skm.confusion_matrix(t, p, labels=np.arange(classes))
        return cm, skm.precision_recall_fscore_support(t, p, average=None, zero_division=0)

    ours()  # warm-up (allocator, CUDA kernels)
    cm_sk, _ = sklearn()
    assert np.array_equal(confusion_matrix(preds, target, classes, ignore).cpu().numpy(), cm_sk)
    t_ours = _median_seconds(ours, args.repeats, sync)
    t_sk = _median_seconds(sklearn, max(1, args.repeats - 2), sync)
    t_tm = _torchmetrics(preds, target, classes, ignore, args.repeats, sync)
    rows.append((name, preds.numel(), t_ours, t_sk, t_tm))


def _torchmetrics(preds, target, classes, ignore, repeats, sync) -> float | None:
    try:
        from torchmetrics.functional.classification import multiclass_confusion_matrix
    except ImportError:
        return None
    return _median_seconds(
        lambda: multiclass_confusion_matrix(preds, target, classes, ignore_index=ignore),
        repeats,
        sync,
    )


def _rss_mib() -> float | None:
    try:
        with open("/proc/self/status") as f:
            line = next(line for line in f if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return None


def _memory(args) -> None:
    batch, classes = 100_000, 19
    acc = ConfusionAccumulator(classes, device=args.device)
    state = {}
    rss = {}
    for step in range(1, 101):
        preds, target = _data((batch,), classes, 0.0, seed=step)
        acc.update(preds.to(args.device), target.to(args.device))
        if step in (1, 100):
            state[step] = acc.matrix.numel() * acc.matrix.element_size()
            rss[step] = _rss_mib()
    print(f"\nMemory, ConfusionAccumulator({classes}) fed 100 batches of {batch:,} predictions:")
    print(f"  state after   1 update : {state[1]:,} bytes (int64 [{classes}, {classes}])")
    print(f"  state after 100 updates: {state[100]:,} bytes")
    if rss[1] is not None:
        print(f"  process RSS after 1 / 100 updates: {rss[1]:.0f} / {rss[100]:.0f} MiB")
    kept = 100 * batch * 8 * 2 / 2**20
    print(f"  (keeping every batch's predictions and targets instead would hold {kept:.0f} MiB)")
    print("  tracemalloc does not see torch's C++ allocations, so RSS is the measure here.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small inputs, 3 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per timing (median)")
    ap.add_argument("--device", default="cpu", help="device for mlcore's tensors (cpu, cuda)")
    args = ap.parse_args()
    args.repeats = args.repeats or (3 if args.quick else 5)
    on_cuda = args.device.startswith("cuda")
    sync = torch.cuda.synchronize if on_cuda else (lambda: None)

    n = 1_000_000 if args.quick else 10_000_000
    seg = (1, 512, 1024) if args.quick else (4, 1024, 2048)
    print(f"torch {torch.__version__} on {args.device}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs; scikit-learn {sklearn.__version__}; median of {args.repeats} "
          f"(sklearn: {max(1, args.repeats - 2)}) repeats")  # fmt: skip
    rows = []
    _bench_case(f"classification, {n:,} preds, 19 classes", (n,), 19, None, args, sync, rows)
    name = f"segmentation {'x'.join(map(str, seg))}, 19 classes, 10% ignored (255)"
    _bench_case(name, seg, 19, 255, args, sync, rows)

    print(f"\n{'case':<58} {'mlcore s':>9} {'sklearn s':>10} {'sklearn/mlcore':>15}")
    for case, _, t_ours, t_sk, _ in rows:
        print(f"{case:<58} {t_ours:>9.3f} {t_sk:>10.3f} {t_sk / t_ours:>14.1f}x")
    if all(r[4] is None for r in rows):
        print("torchmetrics: not installed, skipped.")
    else:
        for case, *_, t_tm in rows:
            print(f"torchmetrics confusion matrix only, {case}: {t_tm:.3f} s")
    _memory(args)


if __name__ == "__main__":
    main()
