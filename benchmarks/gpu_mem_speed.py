"""How long `mlcore gpu-mem` takes, end to end as a user runs it (a fresh process each:
Python and torch start-up included), for every shipped config, ViT-B/16 and a
largest-batch search. Targets (issue 10, 2 CPU cores): <= 5 s a shipped config, <= 15 s
vit_b_16, <= 30 s a search. Each command runs `--repeat` times; the median is reported.

    OMP_NUM_THREADS=1 python benchmarks/gpu_mem_speed.py [--quick] [--repeat 3]
"""

from __future__ import annotations

import argparse
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


def seconds(args: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([*MLCORE, *args, "--json"], cwd=ROOT, capture_output=True)
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(args)}\n{done.stderr.decode()}")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    print(f"python -c 'import torch': {time.perf_counter() - t0:.2f} s (cold-ish)")
    print(f"{'case':32} {'median s':>9}  runs")
    for name, case in cases(args.quick):
        runs = [seconds(case) for _ in range(args.repeat)]
        print(f"{name:32} {statistics.median(runs):9.2f}  {' '.join(f'{r:.2f}' for r in runs)}")


if __name__ == "__main__":
    main()
