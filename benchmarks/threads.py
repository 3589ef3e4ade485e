"""Training time at 1 vs 2 (or more) CPU threads, side by side, and whether the numbers match.

Each run is a fresh `mlcore train CONFIG --set trainer.threads=N` (OMP_NUM_THREADS=N too, so
every OpenMP pool has the same size), the thread counts alternating within each repeat so
that a machine getting busier affects both alike. Reported: the median training time
(summary.json duration_s, start-up excluded), the ratio to the first count, and whether
metrics.csv (every column but the timings) is identical to the first count's: the
reproducibility that `trainer.threads` is for.

    .venv/bin/python benchmarks/threads.py            # the default configs, 3 repeats
    .venv/bin/python benchmarks/threads.py --quick    # 2 configs, 2 epochs, 1 repeat
    .venv/bin/python benchmarks/threads.py --threads 1,2,4 --configs configs/segnet.yaml
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ["configs/mlp_moons.yaml", "configs/mlp_spirals.yaml", "configs/cnn.yaml",
           "configs/segnet.yaml"]  # fmt: skip
QUICK = ["configs/mlp_moons.yaml", "configs/cnn.yaml"]


def train(config: str, threads: int, run_dir: Path, extra: list[str]) -> tuple[float, list]:
    """One run in a fresh process: its training seconds and its metrics without timings."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "mlcore", "train", config, "--quiet", "--run-dir", str(run_dir),
           "--set", f"trainer.threads={threads}", *extra]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr or done.stdout}")
    seconds = json.loads((run_dir / "summary.json").read_text())["duration_s"]
    with (run_dir / "metrics.csv").open(newline="") as f:
        rows = [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]
    return seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 configs, 2 epochs, 1 repeat")
    parser.add_argument("--threads", default="1,2", help="thread counts, the first the baseline")
    parser.add_argument("--configs", nargs="+", help="config files (default: a few shipped)")
    parser.add_argument("--repeats", type=int, help="runs per config and count (default 3)")
    args = parser.parse_args()
    counts = [int(n) for n in args.threads.split(",")]
    configs = args.configs or (QUICK if args.quick else CONFIGS)
    repeats = args.repeats or (1 if args.quick else 3)
    extra = ["--set", "trainer.epochs=2"] if args.quick else []
    print(f"{os.cpu_count()} CPUs; median training seconds of {repeats} run(s) per cell")
    header = f"{'config':28s}" + "".join(f"{f'{n} thr s':>10s}" for n in counts)
    print(header + "".join(f"{f'{n}/{counts[0]}':>8s}" for n in counts[1:]) + "  same metrics")
    with tempfile.TemporaryDirectory() as tmp:
        for config in configs:
            times: dict[int, list[float]] = {n: [] for n in counts}
            metrics: dict[int, list] = {}
            for r in range(repeats):
                for n in counts if r % 2 == 0 else counts[::-1]:  # alternate the order
                    seconds, rows = train(config, n, Path(tmp) / f"{Path(config).stem}-{n}-{r}",
                                          extra)  # fmt: skip
                    times[n].append(seconds)
                    metrics.setdefault(n, rows)
            med = {n: statistics.median(times[n]) for n in counts}
            same = ", ".join(f"{n}: {'yes' if metrics[n] == metrics[counts[0]] else 'NO'}"
                             for n in counts[1:])  # fmt: skip
            line = f"{Path(config).name:28s}" + "".join(f"{med[n]:10.2f}" for n in counts)
            ratios = "".join(f"{med[n] / max(med[counts[0]], 1e-9):8.2f}" for n in counts[1:])
            print(line + ratios + "  " + same)


if __name__ == "__main__":
    main()
