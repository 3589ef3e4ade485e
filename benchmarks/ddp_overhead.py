"""mlcore's DDP training step vs a plain DDP loop: two gloo CPU processes, same model, same
per-process batches, side by side in one run.

(a) mlcore: `parts.step(x, y)`, the step the trainer calls (its DDP wrapper, the NaN and
    stop flags riding on the gradient all-reduce, the loss read once per step);
(b) plain: zero_grad, forward, loss, backward (DDP's all-reduce), step, loss.item() for
    the log, on its own DDP-wrapped copy of the same model.
Both walk the same batches (mlcore's loader, this rank's shard). The two alternate for
several rounds, after a barrier each; rank 0 prints the median step times and the median
of the per-round ratios (each round's two passes ran back to back, so a slow spell of
the machine touches both sides of a ratio). On CPU each rank is pinned to its own core
(where there are enough): two unpinned ranks on two cores migrate and swung the ratio
by +-20% from run to run.

    OMP_NUM_THREADS=1 python benchmarks/ddp_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

CASES = {
    "moons MLP 64-64": {
        "data": {"name": "moons", "n_samples": 20000, "batch_size": 64},
        "model": {"name": "mlp", "hidden": [64, 64]},
        "optimizer": {"name": "adam", "lr": 0.01},
    },
    "digits CNN": {
        "data": {"name": "digits", "batch_size": 64},
        "model": {"name": "cnn", "channels": [32, 64], "hidden": [128], "dropout": 0.25},
        "optimizer": {"name": "adam", "lr": 0.002},
    },
}


def mlcore_pass(batches: list, step) -> float:
    t0 = time.perf_counter()
    for x, y in batches:
        step(x, y)
    return (time.perf_counter() - t0) / len(batches)


def plain_pass(batches: list, model, opt, loss_fn) -> float:
    t0 = time.perf_counter()
    for x, y in batches:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
    return (time.perf_counter() - t0) / len(batches)


def _pin_to_a_core() -> None:
    import os

    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    local, count = int(os.environ.get("LOCAL_RANK", "0")), int(os.environ["LOCAL_WORLD_SIZE"])
    if len(cores) >= count:
        os.sched_setaffinity(0, {cores[local]})


def _rank(rounds: int, device: str = "cpu") -> dict[str, tuple[float, float, list[float]]]:
    """One DDP rank (started by the launcher): {case: (mlcore s/step, plain s/step,
    per-round ratios)}."""
    import torch
    import torch.distributed as dist
    from torch import nn

    from mlcore.config import validate
    from mlcore.training.build import build_parts
    from mlcore.training.device import unwrap

    if device == "cpu":
        _pin_to_a_core()
    results = {}
    for name, case in CASES.items():
        tree = {**case, "trainer": {"epochs": 1, "device": device, "strategy": "ddp"}}
        parts = build_parts(validate(tree))
        batches = list(parts.loaders["train"].epoch(1))
        ids = [parts.placement.device.index] if device == "cuda" else None
        plain_model = nn.parallel.DistributedDataParallel(
            copy.deepcopy(unwrap(parts.model)), device_ids=ids
        )
        plain_opt = torch.optim.Adam(plain_model.parameters(), lr=case["optimizer"]["lr"])
        loss_fn = parts.task.loss
        parts.model.train(), plain_model.train()
        ours, theirs = [], []
        for r in range(rounds + 1):  # round 0 warms both up and is dropped
            sides = (
                (ours, mlcore_pass, (parts.step,)),
                (theirs, plain_pass, (plain_model, plain_opt, loss_fn)),
            )
            for out, fn, fn_args in sides[:: 1 if r % 2 else -1]:
                dist.barrier()
                seconds = fn(batches, *fn_args)
                if device == "cuda":
                    torch.cuda.synchronize()  # both sides read the loss each step anyway
                if r:
                    out.append(seconds)
        ratios = [a / b for a, b in zip(ours, theirs)]
        results[name] = (statistics.median(ours), statistics.median(theirs), ratios)
    return results


def run(processes: int = 2, device: str = "cpu", rounds: int = 15) -> dict:
    """Start `processes` ranks with PyTorch's elastic launcher (as `mlcore train` does for
    strategy ddp) and return rank 0's {case: (mlcore s/step, plain s/step, ratios)}."""
    import os
    import uuid

    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=processes, run_id=uuid.uuid4().hex,
        rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0,
    )  # fmt: skip
    return elastic_launch(config, _rank)(rounds, device)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of --rounds")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    import os

    import torch

    results = run(2, "cpu", 2 if args.quick else args.rounds)
    print(f"DDP, 2 gloo CPU processes, torch {torch.__version__}, "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, per-process batch 64")  # fmt: skip
    print(f"{'case':<18} {'mlcore ms/step':>15} {'plain ms/step':>14} {'ratio':>7}  rounds")
    for name, (ours, theirs, ratios) in results.items():
        spread = f"{min(ratios):.3f}-{max(ratios):.3f}"
        print(
            f"{name:<18} {ours * 1e3:>15.3f} {theirs * 1e3:>14.3f} "
            f"{statistics.median(ratios):>7.3f}  {spread}"
        )


if __name__ == "__main__":
    main()
