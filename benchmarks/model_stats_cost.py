"""What `trainer.log_model_stats: true` adds to an epoch: one validation pass with the
dead-ReLU hooks and the weight statistics, against the same pass without them, and both
against the epoch's training steps.

(a) evaluate(..., model_stats=False): what every epoch does today;
(b) evaluate(..., model_stats=True): the same pass with a forward hook on every ReLU and
    the weights' sparsity and norm afterwards;
(c) one epoch of training steps, for scale.
They alternate, several repeats; the medians and (b - a) / (a + c), the share the option adds
to a whole epoch, are printed. Run with OMP_NUM_THREADS=1 on an idle machine.

    OMP_NUM_THREADS=1 python benchmarks/model_stats_cost.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mlcore.api import SilentReporter
from mlcore.config import validate
from mlcore.evaluation.evaluate import evaluate
from mlcore.training.build import build_parts
from mlcore.training.trainer import Trainer

CASES = {
    "digits CNN": {
        "data": {"name": "digits", "batch_size": 64},
        "model": {"name": "cnn", "channels": [32, 64], "hidden": [128], "batchnorm": True},
    },
    "moons MLP": {
        "data": {"name": "moons", "n_samples": 5000, "batch_size": 64},
        "model": {"name": "mlp", "hidden": [64, 64, 64]},
    },
    "digits ResNet-18": {
        "data": {"name": "digits", "batch_size": 64},
        "model": {"name": "torchvision", "arch": "resnet18"},
    },
}


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_case(name: str, tree: dict, repeats: int) -> None:
    cfg = validate({**tree, "trainer": {"epochs": 1000, "device": "cpu"}})
    parts = build_parts(cfg)
    trainer = Trainer(parts, None, SilentReporter())
    p = parts

    def val(stats: bool):
        return lambda: evaluate(p.model, p.loaders["val"], p.task, p.placement.device,
                                model_stats=stats)  # fmt: skip

    def train_epoch() -> None:
        trainer._train_epoch()
        trainer.epoch, trainer.batch = trainer.epoch + 1, 0

    a, b, c = [], [], []
    for _ in range(repeats):
        a.append(_timed(val(False)))
        b.append(_timed(val(True)))
        c.append(_timed(train_epoch))
    ma, mb, mc = (statistics.median(v) for v in (a, b, c))
    share = (mb - ma) / (ma + mc)
    print(f"{name:17s} {ma:9.4f} {mb:9.4f} {mc:9.4f} {100 * share:8.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one case, 2 repeats")
    args = parser.parse_args()
    repeats = 2 if args.quick else 9
    cases = dict(list(CASES.items())[1:2]) if args.quick else CASES
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {repeats} repeats, median"
    )
    print(f"{'case':17s} {'val s':>9s} {'val+stats':>9s} {'train s':>9s} {'epoch +':>9s}")
    for name, tree in cases.items():
        run_case(name, tree, repeats)


if __name__ == "__main__":
    main()
