"""Every GPU code path of the trainer, timed against a plain PyTorch loop, in one table.

Run it once on a CUDA machine (the one-call device check of docs/benchmarks.md):

    python benchmarks/gpu.py            # ~2-4 min on one GPU; dp and DDP rows need 2+ GPUs
    python benchmarks/gpu.py --quick    # a smoke run (also: --device cpu, without amp)

Rows, each mlcore vs plain on the same model, batches and device, alternating rounds,
median seconds per training step and their ratio:
  - one GPU, fp32 / amp (fp16 autocast + GradScaler) / bf16: the trainer's epochs
    (`Trainer._train_epoch`: the step, loss bookkeeping, scheduler, progress) vs a loop of
    zero_grad, forward, loss, backward, step (amp: with a GradScaler; no per-step host sync);
  - dp over every GPU: mlcore with strategy dp vs the same loop on nn.DataParallel;
  - ddp over every GPU (NCCL), started by PyTorch's elastic launcher as `mlcore train`
    starts them: benchmarks/ddp_overhead.py on CUDA.
Cases: the digits CNN and a wide MLP (digits, 1024-1024-1024), batch 256.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn

CASES = {
    "digits CNN": {
        "data": {"name": "digits", "batch_size": 256},
        "model": {"name": "cnn", "channels": [32, 64], "hidden": [128], "dropout": 0.25},
        "optimizer": {"name": "adam", "lr": 0.002},
    },
    "MLP 1024x3": {
        "data": {"name": "digits", "batch_size": 256},
        "model": {"name": "mlp", "hidden": [1024, 1024, 1024]},
        "optimizer": {"name": "adam", "lr": 0.001},
    },
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _mlcore_epoch(trainer) -> float:
    t0 = time.perf_counter()
    trainer._train_epoch()
    trainer.epoch, trainer.batch = trainer.epoch + 1, 0
    _sync(trainer.p.placement.device)
    return time.perf_counter() - t0


def _plain_epoch(model, opt, scaler, dtype, batches, loss_fn, device) -> float:
    t0 = time.perf_counter()
    for x, y in batches:
        opt.zero_grad(set_to_none=True)
        if dtype is None:
            loss = loss_fn(model(x), y)
        else:
            with torch.autocast(device.type, dtype=dtype):
                out = model(x)
            loss = loss_fn(out.float(), y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
    _sync(device)
    return time.perf_counter() - t0


def compare(case: dict, device: str, precision: str, strategy: str, rounds: int) -> tuple:
    """Median s/step of mlcore and of the plain loop, same model, batches and device."""
    from mlcore.api import SilentReporter
    from mlcore.config import validate
    from mlcore.training.build import build_parts
    from mlcore.training.device import unwrap
    from mlcore.training.trainer import Trainer

    trainer_cfg = {"epochs": 10_000, "device": device, "precision": precision,
                   "strategy": strategy, "log_grad_norms": False}  # fmt: skip
    parts = build_parts(validate({**case, "trainer": trainer_cfg}))
    trainer = Trainer(parts, None, SilentReporter())
    dev = parts.placement.device
    model = copy.deepcopy(unwrap(parts.model)).to(dev)
    if strategy == "dp":
        model = nn.DataParallel(model, device_ids=list(range(parts.placement.devices)))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=case["optimizer"]["lr"])
    dtype = {"amp": torch.float16, "bf16": torch.bfloat16}.get(precision)
    scaler = torch.amp.GradScaler(dev.type) if precision == "amp" else None
    batches = list(parts.loaders["train"].epoch(1))
    steps = len(batches)
    ours, theirs = [], []
    for r in range(rounds + 1):  # round 0 warms up (cuDNN autotuning, allocator) and is dropped
        a = _mlcore_epoch(trainer)
        b = _plain_epoch(model, opt, scaler, dtype, batches, parts.task.loss, dev)
        if r:
            ours.append(a / steps)
            theirs.append(b / steps)
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 7")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (a smoke run)")
    args = parser.parse_args()
    rounds = 2 if args.quick else 7
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py needs a CUDA device (or --device cpu for a smoke run)")
    gpus = torch.cuda.device_count() if args.device == "cuda" else 0
    name = torch.cuda.get_device_name(0) if gpus else "CPU"
    print(f"{name} x{max(gpus, 1)}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"median of {rounds} rounds; seconds per training step")  # fmt: skip
    print(f"{'case':<12} {'run':<16} {'mlcore ms':>10} {'plain ms':>9} {'ratio':>6}")

    def row(case: str, run: str, ours: float, theirs: float) -> None:
        print(f"{case:<12} {run:<16} {ours * 1e3:>10.3f} {theirs * 1e3:>9.3f} "
              f"{ours / theirs:>6.3f}", flush=True)  # fmt: skip

    precisions = ["fp32", "amp", "bf16"] if args.device == "cuda" else ["fp32", "bf16"]
    for case_name, case in CASES.items():
        for precision in precisions:
            ours, theirs = compare(case, args.device, precision, "single", rounds)
            row(case_name, f"1 device {precision}", ours, theirs)
    if gpus > 1:
        for case_name, case in CASES.items():
            ours, theirs = compare(case, "cuda", "fp32", "dp", rounds)
            row(case_name, f"dp x{gpus} fp32", ours, theirs)
        from ddp_overhead import run as run_ddp  # benchmarks/ is this script's folder

        for case_name, (ours, theirs, _ratios) in run_ddp(gpus, "cuda", rounds).items():
            row(case_name, f"ddp x{gpus} (nccl)", ours, theirs)
    else:
        print("dp and ddp rows: need 2 or more GPUs")


if __name__ == "__main__":
    main()
