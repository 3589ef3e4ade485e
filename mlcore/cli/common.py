"""What several commands share: the `--set` option, the split and checkpoint choices, the
console, and showing a report as JSON or as its Rich tables."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Any

import typer

from mlcore.cli.exits import console


class Split(str, Enum):
    test = "test"
    val = "val"
    train = "train"


class Which(str, Enum):
    best = "best"
    last = "last"


SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a config value, e.g. --set optimizer.lr=0.01 (repeatable).",
    ),
]

CheckpointOption = Annotated[Which, typer.Option("--checkpoint", help="best.pt or last.pt.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON only.")]


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def show(report: dict[str, Any], as_json: bool, module: str, renderer: str) -> None:
    """A report as JSON alone on stdout, or as the Rich parts its renderer makes (the
    renderer's module imported only then: JSON output needs no Rich tables)."""
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    import importlib

    out = console()
    for part in getattr(importlib.import_module(module), renderer)(report):
        out.print(part)
