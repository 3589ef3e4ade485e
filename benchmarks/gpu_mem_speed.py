"""How long `mlcore gpu-mem` takes, end to end as a user runs it (a fresh process each:
Python and torch start-up included), for every shipped config, ViT-B/16 and a
largest-batch search. Targets (issue 10, 2 CPU cores): <= 5 s a shipped config, <= 15 s
vit_b_16, <= 30 s a search. Each command runs `--repeat` times; the median wall time is
reported, and the median CPU time beside it (user + system: what a loaded machine disturbs
least).

    OMP_NUM_THREADS=1 python benchmarks/gpu_mem_speed.py [--quick] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MLCORE = [sys.executable, "-m", "mlcore", "gpu-mem"]
VIT = ["configs/resnet18_cifar10.yaml", "--set", "model.arch=vit_b_16"]


def cases(quick: bool) -> list[tuple[str, list[str]]]:
    configs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").glob("*.yaml"))
    if quick:
        configs = ["configs/cnn.yaml"]
    found = [(Path(c).stem, [c]) for c in configs]
    found.append(("vit_b_16 (cifar10 shapes)", VIT))
    found.append(("search: cnn on a T4", ["configs/cnn.yaml", "--gpu-memory", "T4"]))
    found.append(("search: vit_b_16 on 24GiB", [*VIT, "--gpu-memory", "24GiB"]))
    return found


def seconds(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one command. CPU time (user + system, all threads) moves less
    than wall time when other work shares the cores, so a loaded machine still compares."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(argv)}\n{done.stderr.decode()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # The floor under any trace: FakeTensorMode and every optimizer.step() import
    # torch._dynamo, which a training step cannot avoid either.
    floors = ["import torch", "import torch, torch._dynamo"]
    runs = [(f"python -c '{code}'", [sys.executable, "-c", code]) for code in floors]
    runs += [(name, [*MLCORE, *case, "--json"]) for name, case in cases(args.quick)]
    print(f"{'case':40} {'median s':>9} {'cpu s':>6}  runs (wall)")
    for name, argv in runs:
        walls, cpus = zip(*(seconds(argv) for _ in range(args.repeat)), strict=True)
        median = statistics.median
        times = " ".join(f"{r:.2f}" for r in walls)
        print(f"{name:40} {median(walls):9.2f} {median(cpus):6.2f}  {times}")


if __name__ == "__main__":
    main()
