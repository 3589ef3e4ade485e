"""`mlcore sample`: draw from a GAN run's checkpoint; a PNG grid for images, a CSV and a
scatter PNG for vectors (in the data's own units, normalization undone).

Beside the rest of a GAN's generation code: the draws are GenerationTask.samples
(tasks.py), their units judges.denormalize; the run is rebuilt as `mlcore eval` rebuilds
it (mlcore.api, imported lazily: the API sits above evaluation and never imports this)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mlcore.atomic import atomic_write_text
from mlcore.config import load_config
from mlcore.errors import MlcoreError
from mlcore.evaluation.judges import denormalize
from mlcore.training.checkpoint import load_checkpoint
from mlcore.training.device import unwrap
from mlcore.training.rundir import RunDir


def sample_run(
    run_path: str | Path,
    n: int | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    checkpoint: str = "best",
) -> list[Path]:
    """Write `n` samples of the run's generator (its EMA when it has one); return the files."""
    from mlcore.api import _cpu_if_needed, parts_from_checkpoint

    run = RunDir(Path(run_path))
    if not run.config.is_file():
        raise MlcoreError(f"{run_path}: not a run directory (no config.yaml)")
    cfg = load_config(run.config)
    if cfg.model.name != "gan":
        raise MlcoreError(f"{run_path}: a {cfg.model.name} run; mlcore sample needs a gan run")
    if n is not None and n < 1:
        raise MlcoreError(f"-n: must be >= 1, got {n}")
    state = load_checkpoint(run.checkpoint(checkpoint))
    cfg = cfg.replace(trainer=_cpu_if_needed(cfg))
    parts = parts_from_checkpoint(cfg, run, state)
    unwrap(parts.model).load_state_dict(state["model"])
    image = len(parts.data.input_shape) == 3
    n = n or (64 if image else 1000)
    x = parts.task.samples(parts.model, n, seed=seed).cpu()
    stem = f"{checkpoint}_seed{seed}_n{n}"
    default = run.path / "samples" / (stem + (".png" if image else ".csv"))
    path = Path(out) if out is not None else default
    path = path.with_suffix(".png" if image else ".csv")  # the kind the samples are: the
    # stem is the user's (`--out x.png` for vectors writes x.csv and its scatter x.png)
    path.parent.mkdir(parents=True, exist_ok=True)
    title = f"{checkpoint}.pt (epoch {state['epoch'] - 1}), seed {seed}"
    if image:  # every sample on the grid (the per-epoch plots show 64)
        from mlcore.plots.samples import plot_grid

        plot_grid(denormalize(x, parts.data.stats), path, f"{cfg.run.name}: {title}", limit=n)
        return [path]
    write_csv(denormalize(x, parts.data.stats), path)
    png = path.with_suffix(".png")
    parts.task.plot(x, png, title)
    return [path, png]


def write_csv(x, path: Path) -> None:
    """x [N, F] as a CSV with columns x0..x{F-1}."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([f"x{i}" for i in range(x.shape[1])])
    writer.writerows([f"{v:.6g}" for v in row] for row in x.tolist())
    atomic_write_text(path, buf.getvalue())
