"""`mlcore sample`: draws from a GAN run's generator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlcore.cli.common import CheckpointOption, Which


def sample(
    run_dir: Annotated[Path, typer.Argument(help="A GAN run directory.")],
    n: Annotated[
        int | None,
        typer.Option("-n", help="How many samples (default 64 images, 1000 vectors)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output file (PNG for images, CSV for vectors)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the latent draws.")] = 0,
    checkpoint: CheckpointOption = Which.best,
) -> None:
    """Sample from a GAN run: a PNG grid (images) or a CSV and a scatter PNG (vectors)."""
    from mlcore.evaluation.sampling import sample_run

    written = sample_run(run_dir, n, out, seed, checkpoint.value)
    typer.echo("wrote " + ", ".join(str(p) for p in written))
