"""What reading a CSV the mlcore way costs beside `pandas.read_csv` alone on the same file.

The file: ROWS rows (1,000,000 by default), 20 columns: 14 float measurements, 5 text
categorical columns (4 to 40 categories), an integer class target; 1% of the cells of four
numeric and one categorical column empty. Generated into a temporary folder.
mlcore's load (`csv_table`): sniff, read, type every column, drop rows without target, draw
the stratified split, fit medians and categories on the training rows, encode all rows as
float32 one-hot/median-filled features. Target: at most 2x read_csv's time.

Each round runs both in fresh interpreters, alternating which goes first; time is measured
inside the child around the call only (imports excluded), peak memory is the child's peak
RSS above its RSS after the imports. Median over rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np, pandas as pd, torch
from mlcore.config import DataConfig
from mlcore.data.csv_table import csv_table
def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
path, what = sys.argv[1], sys.argv[2]
base = rss_kib()
t0 = time.perf_counter()
if what == "read_csv":
    out = pd.read_csv(path)
    width = out.shape[1]
else:
    out = csv_table(DataConfig(name="csv", path=path, target="y"), seed=0)
    width = out.train.x.shape[1]
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
print(json.dumps({"seconds": seconds, "peak_mib": (peak - base) / 1024, "width": int(width)}))
"""


def write_file(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    data = {f"m{i}": rng.normal(i, 1 + i, rows).round(4) for i in range(14)}
    for i, k in enumerate((4, 8, 12, 20, 40)):
        names = np.array([f"cat{i}_{j}" for j in range(k)], dtype=object)
        data[f"c{i}"] = names[rng.integers(0, k, rows)]
    frame = pd.DataFrame(data)
    for name in ("m0", "m3", "m7", "m11", "c2"):
        frame.loc[rng.random(rows) < 0.01, name] = None
    frame["y"] = rng.integers(0, 5, rows)
    frame.to_csv(path, index=False)


def run(path: Path, what: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), what], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        write_file(path, args.rows)
        size = path.stat().st_size / 2**20
        results: dict[str, list[dict]] = {"read_csv": [], "mlcore": []}
        for r in range(args.rounds):
            order = ["read_csv", "mlcore"] if r % 2 == 0 else ["mlcore", "read_csv"]
            for what in order:
                results[what].append(run(path, what))
    med = {
        what: {k: statistics.median(x[k] for x in rs) for k in ("seconds", "peak_mib")}
        for what, rs in results.items()
    }
    print(f"{args.rows} rows x 20 columns, {size:.0f} MiB; median of {args.rounds} rounds")
    for what, m in med.items():
        width = results[what][0]["width"]
        print(f"  {what:9s} {m['seconds']:7.2f} s  peak +{m['peak_mib']:6.0f} MiB  ({width} cols)")
    ratio = med["mlcore"]["seconds"] / med["read_csv"]["seconds"]
    print(
        f"  ratio mlcore / read_csv: {ratio:.2f}x time (target <= 2x), "
        f"{med['mlcore']['peak_mib'] / med['read_csv']['peak_mib']:.2f}x peak memory"
    )


if __name__ == "__main__":
    main()
