"""`mlcore eval`: a run's checkpoint on a split, as tables, JSON and plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mlcore.cli.common import CheckpointOption, JsonOption, Split, Which
from mlcore.cli.exits import console


def eval_(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `mlcore train`.")],
    split: Annotated[Split, typer.Option("--split", help="Which split to evaluate.")] = Split.test,
    checkpoint: CheckpointOption = Which.best,
    as_json: JsonOption = False,
) -> None:
    """Evaluate a run's checkpoint on a split: metrics table, JSON report, plots."""
    from mlcore.training.precheck import check_eval_request

    check_eval_request(run_dir, checkpoint.value)  # before torch: answers at once
    from mlcore.api import evaluate_run
    from mlcore.evaluation.outputs import write_eval_outputs

    report, parts = evaluate_run(run_dir, split.value, checkpoint.value)
    written = write_eval_outputs(run_dir, report, parts)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    from mlcore.evaluation.report_table import render_report

    out = console()
    if report.get("task") == "generation":  # the samples are drawn, not read from a split
        what = f"{report['num_samples']} generated samples (a GAN's report uses no split)"
    else:
        what = f"{split.value} split, {report['num_samples']} samples"
    out.print(f"{run_dir}: {checkpoint.value} checkpoint (epoch {report['epoch']}), {what}")
    for part in render_report(report):
        out.print(part)
    out.print("wrote " + ", ".join(str(p) for p in written))
