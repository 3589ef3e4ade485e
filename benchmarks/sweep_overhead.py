"""What `mlcore sweep` costs over running its trials by hand, what `--jobs 2` gains, and how
fast `mlcore compare` reads 100 runs.

1. A 3 x 3 sweep of the moons MLP (optimizer.lr x 3 seeds) with `--jobs 1`, against the sum
   of the same nine `mlcore train` commands run one after another. Target: <= 1.10x.
2. The same sweep with `--jobs 2` against `--jobs 1`. Target: <= 0.65x (on 2 free cores).
3. `mlcore compare` (the whole command, interpreter start included) on a synthetic sweep
   directory of 100 runs x 40 epochs. Target: < 2 s.

Run it on an idle machine, at OMP_NUM_THREADS=1 (set here when unset, so that the hand-run
trials and the sweep's children use the same threads):
    OMP_NUM_THREADS=1 python benchmarks/sweep_overhead.py
`--quick`: a 2 x 2 sweep of 2 epochs and a 20-run compare, to check that it runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "mlp_moons.yaml"


def mlcore(*args: str) -> float:
    """Wall seconds of one `mlcore` command in a fresh interpreter (it must succeed)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mlcore", *args], check=True, capture_output=True,
                   cwd=REPO)  # fmt: skip
    return time.perf_counter() - t0


def by_hand(tmp: Path, lrs: list[str], seeds: int, epochs: int) -> float:
    total = 0.0
    for lr in lrs:
        for seed in range(seeds):
            run_dir = tmp / "hand" / f"lr{lr}-s{seed}"
            total += mlcore("train", str(CONFIG), "--set", f"optimizer.lr={lr}", "--set",
                            f"run.seed={seed}", "--set", f"trainer.epochs={epochs}",
                            "--run-dir", str(run_dir), "--quiet")  # fmt: skip
    return total


def sweep(tmp: Path, lrs: list[str], seeds: int, epochs: int, jobs: int) -> float:
    return mlcore("sweep", str(CONFIG), "--grid", "optimizer.lr=" + ",".join(lrs), "--seeds",
                  str(seeds), "--set", f"trainer.epochs={epochs}", "--jobs", str(jobs),
                  "--sweep-dir", str(tmp / f"sweep-j{jobs}"))  # fmt: skip


def synthetic_sweep(root: Path, runs: int, epochs: int) -> Path:
    """`runs` finished run directories in 10 variants, as mlcore train writes them."""
    rng = random.Random(0)
    columns = ["epoch", "step", "train/loss", "val/loss", "val/accuracy", "val/f1", "lr",
               "seconds", "grad/hidden.0", "grad/hidden.2", "grad/head"]  # fmt: skip
    trials = []
    for i in range(runs):
        variant, seed = f"optimizer.lr={0.001 * (1 + i % 10):g}", i // 10
        trial = f"{variant},seed={seed}"
        path = root / "runs" / trial
        path.mkdir(parents=True)
        config = {"run": {"name": "syn", "seed": seed}, "optimizer": {"lr": 0.001 * (1 + i % 10)}}
        (path / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
        accs = []
        with (path / "metrics.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for e in range(1, epochs + 1):
                acc = min(1.0, 0.5 + 0.01 * e + rng.random() * 0.05)
                accs.append(acc)
                writer.writerow([e, 30 * e, 1 / e, 1.2 / e, acc, acc, 0.01, 0.2,
                                 rng.random(), rng.random(), rng.random()])  # fmt: skip
        summary = {"status": "completed", "data": {"task": "classification"},
                   "best": {"epoch": 1, "monitor": "val/accuracy", "value": max(accs)},
                   "test": {"task": "classification", "accuracy": accs[-1]},
                   "duration_s": 5.0}  # fmt: skip
        (path / "summary.json").write_text(json.dumps(summary))
        trials.append({"id": trial, "variant": variant, "seed": seed, "run_dir": f"runs/{trial}",
                       "status": "completed"})  # fmt: skip
    doc = {"metric": "val/accuracy", "target": "val/accuracy=0.9", "trials": trials}
    (root / "sweep.json").write_text(json.dumps(doc))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["PYTHONPATH"] = str(REPO)  # the children run this checkout's mlcore
    lrs = ["0.1", "0.01"] if args.quick else ["0.1", "0.03", "0.01"]
    seeds, epochs, runs = (2, 2, 20) if args.quick else (3, 40, 100)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        hand = by_hand(tmp, lrs, seeds, epochs)
        jobs1 = sweep(tmp, lrs, seeds, epochs, 1)
        jobs2 = sweep(tmp, lrs, seeds, epochs, 2)
        synthetic = synthetic_sweep(tmp / "synthetic", runs, 40)
        compare = min(mlcore("compare", str(synthetic)) for _ in range(3))
    n = len(lrs) * seeds
    threads = os.environ["OMP_NUM_THREADS"]
    print(f"OMP_NUM_THREADS={threads}, {os.cpu_count()} CPUs; {len(lrs)} x {seeds} = {n} "
          f"trials of configs/mlp_moons.yaml, {epochs} epochs")  # fmt: skip
    rows = [
        (f"{n} x `mlcore train`, one after another (sum)", hand, "", ""),
        ("`mlcore sweep --jobs 1`", jobs1, f"{jobs1 / hand:.2f}x the trials by hand", "<= 1.10"),
        ("`mlcore sweep --jobs 2`", jobs2, f"{jobs2 / jobs1:.2f}x --jobs 1", "<= 0.65"),
        (f"`mlcore compare`, {runs} runs x 40 epochs (best of 3)", compare, "", "< 2 s"),
    ]
    print(f"{'what':58} {'seconds':>8}  {'ratio':28} target")
    for what, seconds, ratio, target in rows:
        print(f"{what:58} {seconds:8.2f}  {ratio:28} {target}")


if __name__ == "__main__":
    main()
