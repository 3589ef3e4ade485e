"""gpu-mem's estimate vs memory measured on a real training step, side by side.

For each case (a shipped config, a batch size, a precision) a fresh process runs three
real iterations of mlcore's training step (`trace_step(..., fake=False)`: the loader's
device-resident data, the gathered batch, `SupervisedStep`) and reports the device's peak
statistics; the parent compares them with `mlcore gpu-mem`'s figures for the same case.

On CUDA: estimate vs torch.cuda.max_memory_allocated / max_memory_reserved, the CUDA
context measured by mem_get_info, a cuBLAS workspace probe, and a largest-batch check under
torch.cuda.set_per_process_memory_fraction (the suggested batch must run, 10% more must
not). On a CPU-only machine: the fake trace's peak vs live tensor bytes of the same steps on
real CPU tensors (anyone can run that).

    python benchmarks/gpu_mem_accuracy.py [--quick] [--jobs 6]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIG_MLP = ["data.name=digits", "model.name=mlp", "model.hidden=[4096,4096,4096]"]
CASES = [  # (label, config, overrides, batch sizes)
    ("cnn", "configs/cnn.yaml", [], (64, 1024)),
    ("segnet", "configs/segnet.yaml", [], (32, 256)),
    ("mlp_spirals", "configs/mlp_spirals.yaml", [], (64, 4096)),
    ("breast_cancer", "configs/breast_cancer.yaml", [], (32,)),
    ("linear", "configs/linear.yaml", [], (32,)),
    ("big_mlp", "configs/mlp_moons.yaml", BIG_MLP, (256, 1024)),
    ("resnet18", "configs/cnn.yaml", ["data.name=cifar10", "model.name=torchvision",
                                      "model.arch=resnet18"], (128, 512)),
    ("vit_b_16", "configs/cnn.yaml", ["data.name=cifar10", "model.name=torchvision",
                                      "model.arch=vit_b_16"], (64, 256)),
    ("gan_ring", "configs/gan_ring.yaml", [], (256,)),  # two networks, two optimizers
    ("gan_digits", "configs/gan_digits.yaml", [], (64, 1024)),
]  # fmt: skip
PRECISIONS = ("fp32", "amp", "bf16")


def _cfg_spec(config: str, overrides: list[str], batch: int):
    from mlcore.config import load_config
    from mlcore.memory.spec import data_spec

    cfg = load_config(ROOT / config, [*overrides, f"data.batch_size={batch}"])
    return cfg, data_spec(cfg)[0]


def child(config: str, overrides: list[str], batch: int, precision: str, fraction: float) -> dict:
    """Run in a fresh process: real steps on the device, its peak statistics."""
    import torch

    from mlcore.memory.replay import live_peak
    from mlcore.memory.trace import trace_step
    from mlcore.training.build import seed_everything

    cfg, spec = _cfg_spec(config, overrides, batch)
    seed_everything(cfg.run.seed, cfg.trainer.deterministic)  # as the trainer: algorithms too
    cuda = torch.cuda.is_available()
    out: dict = {}
    if cuda:
        torch.cuda.init()
        torch.empty(1, device="cuda")
        free, total = torch.cuda.mem_get_info()
        out["context_bytes"] = total - free - torch.cuda.memory_reserved()
        if fraction:
            torch.cuda.set_per_process_memory_fraction(fraction)
    try:
        trace = trace_step(cfg, spec, batch, precision, fake=False, steps=3,
                           device="cuda" if cuda else "cpu")  # fmt: skip
    except torch.OutOfMemoryError:
        return {**out, "oom": True}
    out["oom"] = False
    out["live_bytes"] = live_peak(trace.events, trace.host_keys)
    if cuda:
        torch.cuda.synchronize()
        out["allocated"] = torch.cuda.max_memory_allocated()
        out["reserved"] = torch.cuda.max_memory_reserved()
        free, total = torch.cuda.mem_get_info()
        out["used"] = total - free
        out["device"] = torch.cuda.get_device_name()
    return out


def probe() -> dict:
    """Alone on the GPU: the cuBLAS(Lt) workspaces of a matmul and of a linear with bias,
    and the CUDA context after a real training step (memory in use minus reserved)."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    a = torch.randn(64, 64, device="cuda")
    before = torch.cuda.memory_allocated()
    b = a @ a
    mm = torch.cuda.memory_allocated() - before - b.nbytes
    c = torch.nn.functional.linear(a, a, a[0])
    linear = torch.cuda.memory_allocated() - before - b.nbytes - c.nbytes - mm
    child("configs/cnn.yaml", [], 64, "fp32", 0.0)
    free, total = torch.cuda.mem_get_info()
    context = total - free - torch.cuda.memory_reserved()
    return {"mm_workspace": mm, "linear_workspace": linear, "context_MiB": context >> 20}


def estimate(config: str, overrides: list[str], batch: int, precision: str) -> dict:
    from mlcore.memory.estimate import Request
    from mlcore.memory.estimate import estimate as gpu_mem

    cfg, spec = _cfg_spec(config, overrides, batch)
    req = Request(batch, precision, "single", 1, 700 << 20, cfg.trainer.deterministic)
    return gpu_mem(cfg, spec, req)["per_device"][0]


def spawn(*args: str) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps(args)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--fit-only", action="store_true", help="probe and fit check only")
    parser.add_argument("--only", nargs="+", metavar="CASE", help="these cases (labels) only")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        kind, *rest = json.loads(args.child)
        if kind == "probe":
            print(json.dumps(probe()))
        else:
            config, overrides, batch, precision, fraction = rest
            print(json.dumps(child(config, json.loads(overrides), int(batch), precision,
                                   float(fraction))))  # fmt: skip
        return
    import torch

    cuda = torch.cuda.is_available()
    cases = [c for c in CASES if not args.quick or c[0] in ("cnn", "mlp_spirals")]
    if args.only:
        cases = [c for c in CASES if c[0] in args.only]
    if args.fit_only:
        cases = []
    precisions = PRECISIONS if cuda else ("fp32", "bf16")
    jobs = [(label, cfg, ov, b, p) for label, cfg, ov, sizes in cases for b in sizes
            for p in precisions]  # fmt: skip
    t0 = time.perf_counter()
    probed = spawn("probe") if cuda else {}  # alone on the GPU, before the pool starts
    with ThreadPoolExecutor(args.jobs) as pool:
        measured = list(
            pool.map(lambda j: spawn("run", j[1], json.dumps(j[2]), str(j[3]), j[4], "0"), jobs)
        )
    print(f"# {len(jobs)} cases in {time.perf_counter() - t0:.0f}s; torch {torch.__version__}")
    if cuda:
        print("# device:", torch.cuda.get_device_name(), "| probe:", probed)
    _table(jobs, measured, cuda)
    if cuda:
        _fit_check()


def _table(jobs: list, measured: list, cuda: bool) -> None:
    cols = "case batch prec est_alloc real_alloc err est_res real_res err real_tensor_peak"
    print(cols if cuda else "case batch prec fake_trace real_cpu_live equal")
    for (label, cfg, ov, batch, prec), real in zip(jobs, measured):
        if "error" in real:
            print(label, batch, prec, "ERROR", real["error"])
            continue
        if not cuda:
            from mlcore.memory.replay import live_peak
            from mlcore.memory.trace import trace_step

            c, spec = _cfg_spec(cfg, ov, batch)
            t = trace_step(c, spec, batch, prec, steps=3)
            fake = live_peak(t.events, t.host_keys)
            print(label, batch, prec, fake, real["live_bytes"], fake == real["live_bytes"])
            continue
        est = estimate(cfg, ov, batch, prec)
        ea, ra = est["allocated_bytes"], real["allocated"]
        er, rr = est["reserved_bytes"], real["reserved"]
        print(f"{label} {batch} {prec} {ea / 2**20:.1f}MiB {ra / 2**20:.1f}MiB "
              f"{(ea - ra) / ra:+.1%} {er / 2**20:.1f}MiB {rr / 2**20:.1f}MiB "
              f"{(er - rr) / rr:+.1%} {real['live_bytes'] / 2**20:.1f}MiB")  # fmt: skip


def _fit_check() -> None:
    """Largest batch under a memory cap: the suggested batch runs, 10% more does not. And
    whether cuDNN's fp32 convolution workspace shrinks to fit under a cap (it grows into
    free memory on an empty GPU)."""
    import torch

    total = torch.cuda.get_device_properties(0).total_memory
    for mib in (160,):
        capped = spawn("run", "configs/cnn.yaml", "[]", "1024", "fp32", str((mib << 20) / total))
        print(f"cnn 1024 fp32 under a {mib} MiB cap: {capped}")

    from mlcore.memory.estimate import Request
    from mlcore.memory.report import gpu_mem_report

    total = torch.cuda.get_device_properties(0).total_memory
    for label, config, ov, cap_gib, prec in (
        ("segnet", "configs/segnet.yaml", ["data.n_samples=20000"], 1, "amp"),
        ("resnet18", CASES[6][1], CASES[6][2], 3, "amp"),
    ):
        cfg, _ = _cfg_spec(config, ov, 64)
        req = Request(64, prec, "single", 1, 0, cfg.trainer.deterministic)
        t0 = time.perf_counter()
        best = gpu_mem_report(cfg, req, cap_gib << 30)["max_batch_size"]
        search = time.perf_counter() - t0
        fraction = str((cap_gib << 30) / total)
        with ThreadPoolExecutor(2) as pool:
            args = ("run", config, json.dumps(ov))
            runs, over = (
                pool.submit(spawn, *args, str(b), prec, fraction) for b in (best, int(best * 1.1))
            )
            runs, over = runs.result(), over.result()
        print(
            f"fit {label} {prec} cap {cap_gib}GiB (search {search:.0f}s): suggested {best} "
            f"oom={runs.get('oom')} allocated={runs.get('allocated', 0) >> 20}MiB; "
            f"{int(best * 1.1)} oom={over.get('oom')}"
        )


if __name__ == "__main__":
    main()
