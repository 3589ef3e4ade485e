"""`mlcore sweep` (a grid x seeds as ordinary runs) and `mlcore compare` (their table)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mlcore.cli.common import SetOption, plural, show
from mlcore.cli.exits import console


def sweep(
    config: Annotated[Path, typer.Argument(help="YAML config, optionally with a sweep: section.")],
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            metavar="KEY=V1,V2",
            help="Values of a config key to try (repeatable: the product is swept).",
        ),
    ] = None,
    seeds: Annotated[
        int | None, typer.Option("--seeds", min=1, help="Seeds 0..N-1 per variant.")
    ] = None,
    seed_list: Annotated[
        str | None, typer.Option("--seed-list", metavar="0,1,2", help="These seeds.")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Trials run in parallel.")] = 1,
    sweep_dir: Annotated[
        Path | None,
        typer.Option("--sweep-dir", help="Where the sweep goes (default sweeps/<config stem>)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write sweep.json, print the commands, run nothing.")
    ] = False,
    set_: SetOption = None,
) -> None:
    """Train every variant x seed as an ordinary run under one sweep directory; running the
    same command again resumes it."""
    from mlcore.sweep.plan import counts, plan_sweep, run_plan
    from mlcore.sweep.plan import dry_run as dry

    plan = plan_sweep(config, grid or [], set_ or [], seeds, seed_list, sweep_dir)
    if dry_run:
        for line in dry(plan):
            typer.echo(line)
        return
    out = console()
    if not plan.todo:
        out.print(f"sweep {plan.sweep_dir}: all {plural(len(plan.trials), 'trial')} done; "
                  f"next: mlcore compare {plan.sweep_dir}")  # fmt: skip
        return
    skipped = len(plan.trials) - len(plan.todo)
    out.print(
        f"sweep {plan.sweep_dir}: {plural(len(plan.trials), 'trial')}"
        + (f", {skipped} already done" if skipped else "")
        + f", {jobs} at a time"
    )
    finished = run_plan(plan, jobs, lambda event: out.print(_trial_line(event)))
    found = counts(plan)
    tally = ", ".join(f"{n} {status}" for status, n in found.items())
    if not finished:
        again = " ".join(["mlcore", *map(shlex.quote, sys.argv[1:])])
        out.print(f"interrupted ({tally}); resume with `{again}`")
        raise typer.Exit(130)
    failed = [t for t in plan.trials if plan.records[t.id]["status"] == "failed"]
    out.print(f"sweep {plan.sweep_dir}: {tally}; next: mlcore compare {plan.sweep_dir}")
    if failed:
        first = plan.records[failed[0].id].get("error") or "see its log"
        out.print(
            f"{plural(len(failed), 'trial')} failed (first: {failed[0].id}: {first}); "
            f"logs in {plan.sweep_dir / 'logs'}; run the same command again to retry them"
        )
        raise typer.Exit(1)


def _trial_line(event: Any) -> Any:
    from rich.text import Text

    record = event.record
    status = record["status"]
    colour = {"completed": "green", "early_stopped": "green", "failed": "red"}.get(status, "yellow")
    best = record.get("best")
    detail = f"{best['monitor']} {best['value']:.4g}" if best else record.get("error") or ""
    return Text.assemble(
        f"[{event.done}/{event.total}] {event.trial.id}  ",
        (status, colour),
        f"  {detail}  {event.seconds:.1f}s",
    )


def compare(
    paths: Annotated[
        list[Path], typer.Argument(help="A sweep directory, or run directories.", metavar="DIR...")
    ],
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="metrics.csv column to rank by (default: the monitor)."),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", metavar="KEY=V", help="Epochs until KEY first reaches V."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where compare.json and plots/ go (default: the sweep "
            "directory; for run directories the current one).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON only.")] = False,
) -> None:
    """One row per variant, mean ± std over seeds; curves in plots/compare_<metric>.png."""
    from mlcore.sweep.report import compare as compare_runs

    table, written = compare_runs(paths, metric, target, out)
    if as_json:
        typer.echo(json.dumps(table, indent=2))
        return
    show(table, False, "mlcore.sweep.compare_table", "render_compare")
    console().print("wrote " + ", ".join(str(p) for p in written))
