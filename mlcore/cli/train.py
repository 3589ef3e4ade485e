"""`mlcore train`: a run from a config, a resumed run, or (strategy ddp) its ranks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from mlcore.cli.common import SetOption, plural
from mlcore.cli.exits import console, interrupted_line, leave_process_group
from mlcore.errors import MlcoreError
from mlcore.interrupts import State as Interrupts


def train(
    config: Annotated[Path | None, typer.Argument(help="YAML config file.")] = None,
    set_: SetOption = None,
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="Write the run here.")] = None,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", metavar="RUN_DIR", help="Continue an interrupted run."),
    ] = None,
    runs_root: Annotated[Path, typer.Option("--runs-root", help="Where new runs go.")] = Path(
        "runs"
    ),
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Print only the final summary line, the run directory and warnings.",
        ),
    ] = False,
) -> None:
    """Train a model; writes a run directory (config, metrics, checkpoints, plots)."""
    from mlcore.training.precheck import check_placement, check_train_request

    # Mistakes answer before the heavy imports: first those that need no torch (the
    # config, --run-dir, the run to resume), then those that need only torch (CUDA, the
    # device count), and only then data, models and plotting libraries load.
    cfg, source = check_train_request(config, set_ or [], run_dir, resume)
    if cfg.trainer.strategy == "ddp" and "RANK" not in os.environ:  # not under torchrun
        raise typer.Exit(
            _launch_ddp(cfg, source, config, resume, set_ or [], run_dir, runs_root, quiet)
        )
    check_placement(cfg.trainer, source)
    from mlcore.api import train as train_run
    from mlcore.progress import ConsoleReporter
    from mlcore.training.trainer import Interrupted

    out = console()
    out.quiet = os.environ.get("RANK", "0") != "0"  # under torchrun only rank 0 speaks
    reporter = ConsoleReporter(out, quiet=quiet)
    finished = False
    try:
        run, summary = train_run(
            config,
            set_ or [],
            run_dir=run_dir,
            resume=resume,
            reporter=reporter,
            runs_root=runs_root,
        )
        finished = True
    except Interrupted as stop:
        Interrupts.exiting = True  # its one line is this
        out.print(interrupted_line(Path(stop.args[0])))
        raise typer.Exit(130) from None
    finally:  # after a failure the other ranks may be gone: no barrier then
        leave_process_group(together=finished)
    if summary:  # empty on the other ranks of a DDP run: rank 0 reports
        print_summary(out, run.path, summary, quiet=quiet)


def _launch_ddp(
    cfg: Any,
    source: Path,
    config: Path | None,
    resume: Path | None,
    overrides: list[str],
    run_dir: Path | None,
    runs_root: Path,
    quiet: bool,
) -> int:
    """strategy ddp outside torchrun: start the ranks here (training/launch.py)."""
    from mlcore.child_env import children_environ
    from mlcore.training.launch import Job, launch, local_processes
    from mlcore.training.rundir import COMMAND_ENV, command_line, free_run_path

    try:
        processes, backend = local_processes(cfg)
    except MlcoreError as err:
        raise MlcoreError(f"{source}: {err}") from None
    if resume is not None:
        target, rank_args = resume, ["train", "--resume", str(resume)]
    else:  # the parent names the run directory, so that it can record a rank's failure
        target = run_dir or free_run_path(runs_root, cfg.run.name)
        rank_args = ["train", str(config), "--run-dir", str(target)]
    for item in overrides:
        rank_args += ["--set", item]
    if quiet:
        rank_args.append("--quiet")
    job = Job(processes, backend, Path(target))
    console(stderr=True).print(
        f"ddp: starting {processes} process{'es' if processes > 1 else ''} on this machine "
        f"({backend}); run directory {target}"
    )
    # the ranks import this mlcore and record the user's command in summary.json
    with children_environ(**{COMMAND_ENV: command_line()}):
        return launch(job, rank_args)


def print_summary(out: Any, run_path: Path, summary: dict[str, Any], quiet: bool = False) -> None:
    """The final line; then, unless quiet, the fit and the test report; the run directory."""
    from mlcore.evaluation.report_table import render_report

    best = summary.get("best") or {}
    out.print(
        f"{summary['status']}: {plural(summary['epochs_completed'], 'epoch')} in "
        f"{summary['duration_s']:.1f}s; best {best.get('monitor')} = {best.get('value'):.6g} "
        f"at epoch {best.get('epoch')}"
    )
    if quiet:  # the report is in summary.json, and `mlcore eval RUN_DIR` shows it
        out.print(f"run directory: {run_path}")
        return
    fit = summary.get("fit")
    if fit:
        learned = ", ".join(f"{w:.4f}" for w in fit["learned_w"])
        true = ", ".join(f"{w:.4f}" for w in fit["true_w"] or [])
        out.print(
            f"fit: learned W = [{learned}], b = {fit['learned_b']:.4f}; "
            f"true w = [{true}], b = {fit['true_b']}"
        )
    if summary.get("test"):
        out.print("test split, best checkpoint:")
        for part in render_report(summary["test"]):
            out.print(part)
    out.print(f"run directory: {run_path}")
