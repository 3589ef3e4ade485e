"""How long the CLI takes to answer: `mlcore --help`, `import mlcore.cli`, a config error.

Target: under 0.2 s each, because none of them may import torch. For contrast it also times
`import torch` alone. Median of repeats, each in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 15
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "bad.yaml"
        bad.write_text("model: {name: cnnn}\n")
        cases = {
            "mlcore --help": [py, "-m", "mlcore", "--help"],
            "python -c 'import mlcore.cli'": [py, "-c", "import mlcore.cli"],
            "mlcore config <typo> (exit 2)": [py, "-m", "mlcore", "config", str(bad)],
            "python -c 'import torch' (contrast)": [py, "-c", "import torch"],
        }
        print(f"{'command':40s} {'median s':>9s}   ({repeats} runs)")
        for name, cmd in cases.items():
            print(f"{name:40s} {timed(cmd, repeats):9.3f}")


if __name__ == "__main__":
    main()
