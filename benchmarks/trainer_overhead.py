"""mlcore's trainer vs a minimal hand-written PyTorch loop: same model, data, steps.

(a) mlcore: the Trainer's training epochs (train_step, loss bookkeeping, scheduler hook,
    progress callback, gradient-norm logging on the last step of each epoch);
(b) plain: for each batch zero_grad, forward, loss, backward, step over the same tensors.
Both index the same in-memory tensors with a fresh permutation per epoch. They alternate,
several repeats; the median ratio (a)/(b) is the trainer's overhead. A second table adds
one validation pass per epoch to both sides (mlcore: its evaluator with the confusion-matrix
accumulator; plain: a no_grad forward and argmax accuracy), both in batches of mlcore's
evaluation batch size.

The third table is the whole epoch, end to end (issue #12): mlcore's `Trainer.fit` with a
real run directory (validation, metrics.csv, last.pt and best.pt, summary.json, train.log,
gradient norms) against a plain loop that trains and validates (loss and accuracy, batches of
256) on the digits MLP 64-256-256-10, batch 64, Adam. Per-epoch time is (T(45 epochs) -
T(5 epochs)) / 40, so start-up cancels; the two sides alternate in rounds within one process.

    OMP_NUM_THREADS=1 python benchmarks/trainer_overhead.py [--quick] [--only epoch]
        [--rounds 7] [--run-root DIR]
"""

from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from mlcore.api import SilentReporter
from mlcore.config import validate
from mlcore.evaluation.evaluate import evaluate
from mlcore.training.build import build_parts, eval_batch_size
from mlcore.training.rundir import create_run_dir
from mlcore.training.trainer import Trainer

CASES = {
    "digits CNN": {
        "data": {"name": "digits", "batch_size": 64},
        "model": {
            "name": "cnn",
            "channels": [32, 64],
            "hidden": [128],
            "batchnorm": True,
            "dropout": 0.25,
        },
        "optimizer": {"name": "adam", "lr": 0.002},
    },
    "moons MLP": {
        "data": {"name": "moons", "n_samples": 5000, "batch_size": 64},
        "model": {"name": "mlp", "hidden": [64, 64]},
        "optimizer": {"name": "adam", "lr": 0.01},
    },
}


def mlcore_epochs(trainer: Trainer, epochs: int, validate_too: bool) -> float:
    t0 = time.perf_counter()
    for _ in range(epochs):
        trainer._train_epoch()
        trainer.epoch, trainer.batch = trainer.epoch + 1, 0
        if validate_too:
            p = trainer.p
            evaluate(p.model, p.loaders["val"], p.task, p.placement.device)
    return time.perf_counter() - t0


def plain_epochs(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    vx: torch.Tensor,
    vy: torch.Tensor,
    batch: int,
    epochs: int,
    validate_too: bool,
    eval_batch: int,
) -> float:
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        if validate_too:
            model.eval()
            with torch.no_grad():
                correct = sum(
                    int((model(vx[i : i + eval_batch]).argmax(1) == vy[i : i + eval_batch]).sum())
                    for i in range(0, len(vx), eval_batch)
                )
            _ = correct / len(vx)
    return time.perf_counter() - t0


def run_case(name: str, tree: dict, epochs: int, repeats: int, validate_too: bool) -> float:
    cfg = validate({**tree, "trainer": {"epochs": 1000, "device": "cpu", "log_grad_norms": True}})
    parts = build_parts(cfg)
    trainer = Trainer(parts, None, SilentReporter())
    model = copy.deepcopy(parts.model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optimizer.lr)
    x, y = parts.data.train.x, parts.data.train.y
    vx, vy = parts.data.val.x, parts.data.val.y
    ratios, times_a, times_b = [], [], []
    for _ in range(repeats):
        a = mlcore_epochs(trainer, epochs, validate_too)
        b = plain_epochs(
            model,
            opt,
            x,
            y,
            vx,
            vy,
            cfg.data.batch_size,
            epochs,
            validate_too,
            eval_batch_size(cfg),
        )
        times_a.append(a)
        times_b.append(b)
        ratios.append(a / b)
    steps = epochs * len(parts.loaders["train"])
    med_a, med_b = statistics.median(times_a), statistics.median(times_b)
    print(f"{name:12s} {steps:6d} {med_a:9.3f} {med_b:9.3f} {statistics.median(ratios):7.3f}")
    return statistics.median(ratios)


# -- the whole epoch, end to end ------------------------------------------------------------
EPOCH_CASE = {
    "run": {"name": "epoch-cost", "seed": 0},
    "data": {"name": "digits", "batch_size": 64},
    "model": {"name": "mlp", "hidden": [256, 256]},  # 64-256-256-10
    "optimizer": {"name": "adam", "lr": 0.001},
}
BATCH = EPOCH_CASE["data"]["batch_size"]
PLAIN_EVAL_BATCH = 256


def mlcore_fit(epochs: int, root: Path) -> float:
    """Seconds of Trainer.fit for `epochs` epochs, writing a real run directory."""
    cfg = validate({**EPOCH_CASE, "trainer": {"epochs": epochs, "device": "cpu"}})
    parts = build_parts(cfg)
    run = create_run_dir(root, cfg.run.name, "benchmark: true\n")
    trainer = Trainer(parts, run, SilentReporter())
    t0 = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - t0
    shutil.rmtree(run.path)
    return seconds


def plain_fit(epochs: int, model: nn.Module, data: tuple, lr: float) -> float:
    """Seconds of a plain loop: train an epoch, then validation loss and accuracy."""
    x, y, vx, vy = data
    model = copy.deepcopy(model)  # the same initial weights as mlcore's
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), BATCH):
            idx = perm[i : i + BATCH]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
        model.eval()
        loss, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(vx), PLAIN_EVAL_BATCH):
                out = model(vx[i : i + PLAIN_EVAL_BATCH])
                target = vy[i : i + PLAIN_EVAL_BATCH]
                loss += float(nn.functional.cross_entropy(out, target, reduction="sum"))
                correct += int((out.argmax(1) == target).sum())
        _ = loss / len(vx), correct / len(vx)
    return time.perf_counter() - t0


def epoch_cost(short: int, long: int, rounds: int, run_root: Path | None) -> list[float]:
    """Per-round ratios mlcore / plain of the per-epoch time, printed as they come."""
    cfg = validate({**EPOCH_CASE, "trainer": {"epochs": long, "device": "cpu"}})
    parts = build_parts(cfg)
    data = (parts.data.train.x, parts.data.train.y, parts.data.val.x, parts.data.val.y)
    root = Path(tempfile.mkdtemp(prefix="mlcore-epoch-cost-", dir=run_root))
    sides = {
        "mlcore": lambda n: mlcore_fit(n, root),
        "plain": lambda n: plain_fit(n, parts.model, data, cfg.optimizer.lr),
    }
    span = long - short
    print(
        f"\nwhole epoch, end to end: digits MLP 64-256-256-10, batch 64, Adam; per epoch = "
        f"(T{long} - T{short}) / {span}; mlcore's run directories under {root}"
    )
    print(f"{'round':>5s} {'mlcore ms':>10s} {'plain ms':>10s} {'ratio':>7s}")
    ratios = []
    try:
        for r in range(rounds):
            order = ("mlcore", "plain") if r % 2 == 0 else ("plain", "mlcore")  # drift cancels
            per_epoch = {}
            for name in order:
                t_short, t_long = sides[name](short), sides[name](long)
                per_epoch[name] = (t_long - t_short) / span
            ratios.append(per_epoch["mlcore"] / per_epoch["plain"])
            print(
                f"{r + 1:5d} {per_epoch['mlcore'] * 1e3:10.1f} {per_epoch['plain'] * 1e3:10.1f} "
                f"{ratios[-1]:7.3f}"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"median ratio {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few epochs and repeats")
    parser.add_argument("--only", choices=["steps", "epoch"], help="run one part only")
    parser.add_argument("--rounds", type=int, default=7, help="end-to-end rounds (default 7)")
    parser.add_argument(
        "--run-root", type=Path, help="where mlcore's run directories go (default: temp dir)"
    )
    args = parser.parse_args()
    epochs, repeats = (1, 3) if args.quick else (5, 7)
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{epochs} epochs x {repeats} repeats, median"
    )
    if args.only != "epoch":
        for validate_too in (False, True):
            print(
                "\n"
                + (
                    "training + one validation pass per epoch"
                    if validate_too
                    else "training steps only"
                )
            )
            print(f"{'case':12s} {'steps':>6s} {'mlcore s':>9s} {'plain s':>9s} {'ratio':>7s}")
            for name, tree in CASES.items():
                run_case(name, tree, epochs, repeats, validate_too)
    if args.only != "steps":
        short, long = (1, 4) if args.quick else (5, 45)
        epoch_cost(short, long, 2 if args.quick else args.rounds, args.run_root)


if __name__ == "__main__":
    main()
