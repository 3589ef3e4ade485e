"""mlcore's trainer vs a minimal hand-written PyTorch loop: same model, data, steps.

(a) mlcore: the Trainer's training epochs (train_step, loss bookkeeping, scheduler hook,
    progress callback, gradient-norm logging on the last step of each epoch);
(b) plain: for each batch zero_grad, forward, loss, backward, step over the same tensors.
Both index the same in-memory tensors with a fresh permutation per epoch. They alternate,
several repeats; the median ratio (a)/(b) is the trainer's overhead. A second table adds
one validation pass per epoch to both sides (mlcore: its evaluator with the confusion-matrix
accumulator; plain: a no_grad forward and argmax accuracy).

    python benchmarks/trainer_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn

from mlcore.api import SilentReporter
from mlcore.config import validate
from mlcore.evaluation.evaluate import evaluate
from mlcore.training.build import build_parts
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
                    int((model(vx[i : i + batch]).argmax(1) == vy[i : i + batch]).sum())
                    for i in range(0, len(vx), batch)
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
        b = plain_epochs(model, opt, x, y, vx, vy, cfg.data.batch_size, epochs, validate_too)
        times_a.append(a)
        times_b.append(b)
        ratios.append(a / b)
    steps = epochs * len(parts.loaders["train"])
    med_a, med_b = statistics.median(times_a), statistics.median(times_b)
    print(f"{name:12s} {steps:6d} {med_a:9.3f} {med_b:9.3f} {statistics.median(ratios):7.3f}")
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    epochs, repeats = (1, 3) if args.quick else (5, 7)
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{epochs} epochs x {repeats} repeats, median"
    )
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


if __name__ == "__main__":
    main()
