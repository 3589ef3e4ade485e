"""Commands that look without training: `mlcore config`, `mlcore summary`, `mlcore runs`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlcore.cli.common import SetOption, show
from mlcore.cli.exits import console


def config_(
    config: Annotated[Path, typer.Argument(help="YAML config file.")],
    set_: SetOption = None,
) -> None:
    """Validate a config and print it resolved, with every default filled in."""
    from mlcore.config import dump, load_config

    typer.echo(dump(load_config(config, set_ or [])), nl=False)


def summary(
    config: Annotated[Path, typer.Argument(help="YAML config file.")],
    set_: SetOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON only.")
    ] = False,
) -> None:
    """Layers, output shapes and parameter counts of a config's model, with the arithmetic."""
    from mlcore.config import load_config

    cfg = load_config(config, set_ or [])  # before importing torch: errors answer at once
    from mlcore.inspection.summary import summarize

    result = summarize(cfg, source=config).to_dict()
    show(result, as_json, "mlcore.inspection.summary_table", "render_summary")


def runs(
    root: Annotated[Path, typer.Argument(help="Folder holding runs.")] = Path("runs"),
) -> None:
    """List runs as a table: name, model, dataset, epochs, status, best, test metric."""
    from mlcore.runs import find_runs, runs_table

    found = find_runs(root)
    if not found:
        typer.echo(f"no runs under {root}")
        return
    console().print(runs_table(found, root))
