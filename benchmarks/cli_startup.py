"""How long the CLI takes to answer: `mlcore --help`, `import mlcore.cli`, and mistakes.

Targets (idle machine):
- mistakes that need no torch (a config typo, an existing --run-dir, `eval` on a folder
  that is not a run, a resume the saved config refuses, amp on an explicit cpu): well under
  0.3 s, because torch is never imported for them;
- mistakes that need only torch (CUDA asked for on a machine without it, dp or amp there):
  at most `import torch` + 0.3 s, because data, models and plotting libraries never load.
`import torch` alone is timed for that contrast. Median of repeats, each in a fresh
interpreter; the cases alternate within each repeat.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cases: dict[str, list[str]], repeats: int, cwd: Path) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, cmd in cases.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=False, cwd=cwd)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 15
    py = sys.executable
    mlcore = [py, "-m", "mlcore"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bad.yaml").write_text("model: {name: cnnn}\n")
        good = "run: {name: t}\ndata: {name: moons}\nmodel: {name: mlp}\n"
        (root / "good.yaml").write_text(good)
        (root / "full").mkdir()
        (root / "full" / "file").write_text("x")
        train = [*mlcore, "train", "good.yaml", "--set"]
        no_torch = {
            "mlcore --help": [*mlcore, "--help"],
            "python -c 'import mlcore.cli'": [py, "-c", "import mlcore.cli"],
            "mlcore config <typo>": [*mlcore, "config", "bad.yaml"],
            "train <typo>": [*mlcore, "train", "bad.yaml"],
            "train --run-dir <not empty>": [*mlcore, "train", "good.yaml", "--run-dir", "full"],
            "train amp on device cpu": [
                *train,
                "trainer.precision=amp",
                "--set",
                "trainer.device=cpu",
            ],  # fmt: skip
            "train dp on device cpu": [
                *train,
                "trainer.strategy=dp",
                "--set",
                "trainer.device=cpu",
            ],  # fmt: skip
            "eval <a folder of configs>": [*mlcore, "eval", "."],
            "train --resume <not a run>": [*mlcore, "train", "--resume", "."],
        }
        torch_only = {
            "python -c 'import torch' (contrast)": [py, "-c", "import torch"],
            "train device cuda (no CUDA here)": [*train, "trainer.device=cuda"],
            "train strategy dp (no CUDA here)": [*train, "trainer.strategy=dp"],
            "train precision amp (no CUDA here)": [*train, "trainer.precision=amp"],
        }
        first = timed(no_torch, repeats, root)
        second = timed(torch_only, repeats, root)
    torch_s = second.pop("python -c 'import torch' (contrast)")
    print(f"{'command (each exits at once; 2 = an error)':44s} {'median s':>9s}  target")
    for name, seconds in first.items():
        print(f"{name:44s} {seconds:9.3f}  <= 0.3 (no torch)")
    print(f"{'python -c import torch (contrast)':44s} {torch_s:9.3f}")
    for name, seconds in second.items():
        print(f"{name:44s} {seconds:9.3f}  <= {torch_s + 0.3:.2f} (import torch + 0.3)")
    print(f"({repeats} runs each; on a machine with CUDA the last rows are not errors)")


if __name__ == "__main__":
    main()
