"""The `mlcore` command line: thin Typer commands over the library.

Start-up stays fast: torch and everything that imports it are imported inside the commands
that need them, so `mlcore --help`, `mlcore config` and config errors answer at once.
Output, exit codes and error display live here and nowhere else.
"""

from __future__ import annotations

from mlcore.interrupts import State as Interrupts
from mlcore.interrupts import catch_sigint, command, exit_before_start

catch_sigint()  # first (under load the imports below took 70 ms): a Ctrl-C from here on
try:  # ends as one line, exit 130; the console script imports this module before main()
    import contextlib
    import json
    import os
    import sys
    from enum import Enum
    from pathlib import Path
    from typing import Annotated, Any

    import typer

    from mlcore.errors import MlcoreError
    from mlcore.memory.sizes import DEFAULT_CONTEXT_MB
except KeyboardInterrupt:
    exit_before_start()

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: flags read as flags, not as "<bool>" options
    help="Run the fundamentals of machine learning from a short YAML file.",
)


class _State:
    debug = False
    left_process_group = False  # this process was a DDP rank: see _exit_rank


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


def _console(stderr: bool = False):
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    console.on_broken_pipe = _quiet_broken_pipe  # Rich's own exits 1
    if not console.is_terminal:  # a log file or pipe has no width: do not squeeze tables
        console.width = max(console.width, 240)  # (compare has 8 columns of mean ± std)
    return console


def _version(value: bool) -> None:
    if value:
        from mlcore import __version__

        typer.echo(f"mlcore {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    _State.debug = debug


@app.command()
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
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

    console = _console()
    console.quiet = os.environ.get("RANK", "0") != "0"  # under torchrun only rank 0 speaks
    reporter = ConsoleReporter(console, quiet=quiet)
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
        console.print(_interrupted_line(Path(stop.args[0])))
        raise typer.Exit(130) from None
    finally:  # after a failure the other ranks may be gone: no barrier then
        _leave_process_group(together=finished)
    if summary:  # empty on the other ranks of a DDP run: rank 0 reports
        _print_summary(console, run.path, summary)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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
    _console(stderr=True).print(
        f"ddp: starting {processes} process{'es' if processes > 1 else ''} on this machine "
        f"({backend}); run directory {target}"
    )
    # the ranks import this mlcore and record the user's command in summary.json
    with children_environ(**{COMMAND_ENV: command_line()}):
        return launch(job, rank_args)


def _leave_process_group(together: bool) -> None:
    """End this DDP rank's part. `together`: wait at a barrier first, so that no rank reaches
    interpreter exit while gloo's worker thread still releases the tensors of its last
    collective: that release takes the GIL, and during finalization it aborts the process
    ("terminate called without an active exception", pytorch#190489; in torch 2.14
    destroy_process_group does not join those threads). The barrier narrows that window
    but cannot close it (the barrier's own work holds the earlier ones), so the rank then
    leaves without interpreter finalization: `_exit_rank`."""
    dist = sys.modules.get("torch.distributed")  # never imported here: after a Ctrl-C
    # inside torch's own import, importing it again fails ("cannot load module more than
    # once per process")
    if dist is not None and dist.is_available() and dist.is_initialized():
        if together:
            dist.barrier()
        dist.destroy_process_group()
        _State.left_process_group = True


def _print_summary(console: Any, run_path: Path, summary: dict[str, Any]) -> None:
    from mlcore.evaluation.report_table import render_report

    best = summary.get("best") or {}
    console.print(
        f"{summary['status']}: {_plural(summary['epochs_completed'], 'epoch')} in "
        f"{summary['duration_s']:.1f}s; best {best.get('monitor')} = {best.get('value'):.6g} "
        f"at epoch {best.get('epoch')}"
    )
    fit = summary.get("fit")
    if fit:
        learned = ", ".join(f"{w:.4f}" for w in fit["learned_w"])
        true = ", ".join(f"{w:.4f}" for w in fit["true_w"] or [])
        console.print(
            f"fit: learned W = [{learned}], b = {fit['learned_b']:.4f}; "
            f"true w = [{true}], b = {fit['true_b']}"
        )
    if summary.get("test"):
        console.print("test split, best checkpoint:")
        for part in render_report(summary["test"]):
            console.print(part)
    console.print(f"run directory: {run_path}")


@app.command("eval")
def eval_(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `mlcore train`.")],
    split: Annotated[Split, typer.Option("--split", help="Which split to evaluate.")] = Split.test,
    checkpoint: Annotated[Which, typer.Option("--checkpoint", help="best.pt or last.pt.")] = (
        Which.best
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON only.")] = False,
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

    console = _console()
    if report.get("task") == "generation":  # the samples are drawn, not read from a split
        what = f"{report['num_samples']} generated samples (a GAN's report uses no split)"
    else:
        what = f"{split.value} split, {report['num_samples']} samples"
    console.print(f"{run_dir}: {checkpoint.value} checkpoint (epoch {report['epoch']}), {what}")
    for part in render_report(report):
        console.print(part)
    console.print("wrote " + ", ".join(str(p) for p in written))


@app.command()
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
    checkpoint: Annotated[Which, typer.Option("--checkpoint", help="best.pt or last.pt.")] = (
        Which.best
    ),
) -> None:
    """Sample from a GAN run: a PNG grid (images) or a CSV and a scatter PNG (vectors)."""
    from mlcore.sampling import sample_run

    written = sample_run(run_dir, n, out, seed, checkpoint.value)
    typer.echo("wrote " + ", ".join(str(p) for p in written))


@app.command("config")
def config_(
    config: Annotated[Path, typer.Argument(help="YAML config file.")],
    set_: SetOption = None,
) -> None:
    """Validate a config and print it resolved, with every default filled in."""
    from mlcore.config import dump, load_config

    typer.echo(dump(load_config(config, set_ or [])), nl=False)


@app.command()
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
    from mlcore.summary import summarize

    result = summarize(cfg, source=config).to_dict()
    _show(result, as_json, "mlcore.summary_table", "render_summary")


@app.command()
def runs(
    root: Annotated[Path, typer.Argument(help="Folder holding runs.")] = Path("runs"),
) -> None:
    """List runs as a table: name, model, dataset, epochs, status, best, test metric."""
    from mlcore.runs import find_runs, runs_table

    found = find_runs(root)
    if not found:
        typer.echo(f"no runs under {root}")
        return
    _console().print(runs_table(found, root))


@app.command()
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
    console = _console()
    if not plan.todo:
        console.print(f"sweep {plan.sweep_dir}: all {_plural(len(plan.trials), 'trial')} done; "
                      f"next: mlcore compare {plan.sweep_dir}")  # fmt: skip
        return
    skipped = len(plan.trials) - len(plan.todo)
    console.print(
        f"sweep {plan.sweep_dir}: {_plural(len(plan.trials), 'trial')}"
        + (f", {skipped} already done" if skipped else "")
        + f", {jobs} at a time"
    )
    finished = run_plan(plan, jobs, lambda event: console.print(_trial_line(event)))
    found = counts(plan)
    tally = ", ".join(f"{n} {status}" for status, n in found.items())
    if not finished:
        again = " ".join(["mlcore", *map(_quote, sys.argv[1:])])
        console.print(f"interrupted ({tally}); resume with `{again}`")
        raise typer.Exit(130)
    failed = [t for t in plan.trials if plan.records[t.id]["status"] == "failed"]
    console.print(f"sweep {plan.sweep_dir}: {tally}; next: mlcore compare {plan.sweep_dir}")
    if failed:
        first = plan.records[failed[0].id].get("error") or "see its log"
        console.print(
            f"{_plural(len(failed), 'trial')} failed (first: {failed[0].id}: {first}); "
            f"logs in {plan.sweep_dir / 'logs'}; run the same command again to retry them"
        )
        raise typer.Exit(1)


@app.command()
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
    _show(table, False, "mlcore.sweep.compare_table", "render_compare")
    _console().print("wrote " + ", ".join(str(p) for p in written))


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


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


class Strategy(str, Enum):
    single = "single"
    dp = "dp"
    ddp = "ddp"


class Precision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"
    amp = "amp"


@app.command("gpu-mem")
def gpu_mem(
    config: Annotated[Path, typer.Argument(help="YAML config file.")],
    set_: SetOption = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="Batch (per process under ddp, split under dp)."),
    ] = None,
    devices: Annotated[
        int | None, typer.Option("--devices", min=1, help="GPUs (dp, ddp); default 1 or 2.")
    ] = None,
    strategy: Annotated[
        Strategy | None, typer.Option("--strategy", help="Default: the config's, else single.")
    ] = None,
    precision: Annotated[
        Precision | None,
        typer.Option(
            "--precision",
            help="Default: trainer.precision. fp16: a model in half precision throughout "
            "(what such a run needs; mlcore's trainer itself trains fp32, amp or bf16).",
        ),
    ] = None,
    gpu_memory: Annotated[
        str | None,
        typer.Option(
            "--gpu-memory",
            metavar="SIZE",
            help="24GiB, 24GB, 24000MiB, bytes or a GPU name (A100-80GB...): find the "
            "largest batch that fits.",
        ),
    ] = None,
    context_mb: Annotated[
        int,
        typer.Option(
            "--context-mb", min=0, help="CUDA context allowance in MiB (measured: 702 on an H200)."
        ),
    ] = DEFAULT_CONTEXT_MB,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON only.")] = False,
) -> None:
    """Estimate the GPU memory that training a config needs, per device, by tracing mlcore's
    own training step on fake tensors (no GPU needed)."""
    from mlcore.config import load_config
    from mlcore.memory.sizes import parse_size

    cfg = load_config(config, set_ or [])
    capacity = parse_size(gpu_memory) if gpu_memory is not None else None
    try:
        req = _memory_request(cfg, batch_size, devices, strategy, precision, context_mb)
        from mlcore.memory.report import gpu_mem_report

        report = gpu_mem_report(cfg, req, capacity)
    except MlcoreError as err:
        raise MlcoreError(f"{config}: {err}") from None
    _show(report, as_json, "mlcore.memory.table", "render_gpu_mem")


def _show(report: dict[str, Any], as_json: bool, module: str, renderer: str) -> None:
    """A report as JSON alone on stdout, or as the Rich parts its renderer makes (the
    renderer's module imported only then: JSON output needs no Rich tables)."""
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    import importlib

    console = _console()
    for part in getattr(importlib.import_module(module), renderer)(report):
        console.print(part)


def _memory_request(cfg: Any, batch_size, devices, strategy, precision, context_mb) -> Any:
    """The flags over the config's trainer section; what training would refuse, refused."""
    from mlcore.memory.estimate import Request

    t = cfg.trainer
    chosen = strategy.value if strategy else (t.strategy if t.strategy != "auto" else "single")
    count = devices or (t.devices if t.devices != "auto" else (1 if chosen == "single" else 2))
    source = "--devices" if devices else "trainer.devices"
    if chosen == "single" and count != 1:
        raise MlcoreError(
            f"{source} {count}: several devices need --strategy dp or ddp; single uses one"
        )
    batch = batch_size or cfg.data.batch_size
    if chosen == "dp" and batch < count:
        raise MlcoreError(f"--batch-size {batch}: dp splits a batch over {count} devices")
    chosen_precision = precision.value if precision else t.precision
    if cfg.model.name == "gan" and chosen == "dp":
        raise MlcoreError(
            "--strategy dp: a gan trains on one device or under ddp (--strategy single or "
            "ddp); dp is not supported for it"
        )
    return Request(
        batch_size=batch,
        precision=chosen_precision,
        strategy=chosen,
        devices=count,
        context_bytes=context_mb << 20,
        deterministic=t.deterministic,
    )


def _labelled(label: str, message: str) -> Any:
    from rich.text import Text

    return Text.assemble((label, "bold red"), message)  # no markup parsing of the message


def main() -> None:
    """Entry point: user errors exit 2 with one line, failed runs 1, interrupts 130."""
    catch_sigint()
    try:
        _run_app()
    except SystemExit as stop:
        if _State.left_process_group:
            _exit_rank(stop.code)
        raise
    except BaseException:
        if not Interrupts.interrupted or _State.debug:
            raise
        _exit_interrupted()  # whatever the interrupt surfaced as: one line, never a traceback


def _interrupted_line(run_path: Path | None = None) -> str:
    """What a Ctrl-C left behind, as it is on disk."""
    if run_path is None:  # a run directory made in this process, if any (none: not imported)
        rundir = sys.modules.get("mlcore.training.rundir")
        made = rundir.created_run_dirs() if rundir is not None else []
        run_path = made[-1] if made else None
    if run_path is None:
        return "interrupted before training; nothing written"
    if (run_path / "checkpoints" / "last.pt").is_file():
        return f"interrupted: resume with `mlcore train --resume {run_path}`"
    return (
        f"interrupted before the first checkpoint: {run_path} holds no checkpoint "
        "(nothing to resume; start the run again)"
    )


def _resumed_path() -> Path | None:
    """`--resume RUN_DIR` of this command line, read from argv: after an interrupt the
    parsed arguments may never have been bound."""
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg == "--resume" and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--resume="):
            return Path(arg.split("=", 1)[1])
    return None


def _exit_interrupted() -> None:
    Interrupts.exiting = True
    if _speaks():
        typer.echo(_interrupted_line(_resumed_path()) if command() == "train" else "interrupted")
    sys.exit(130)


def _speaks() -> bool:
    """Under DDP only rank 0 prints what every rank knows alike (a config error, the agreed
    NaN stop, an interrupt); each rank records its own error for the launcher, which names
    another rank's when that one failed first."""
    return os.environ.get("RANK", "0") == "0"


def _exit_rank(code: int | str | None) -> None:
    """A DDP rank's exit: everything it writes is written (run files atomically, before
    this); flush the streams and end without Python's finalization, during which a gloo
    worker thread still releasing a collective's tensors aborts the process (SIGABRT
    instead of this status; see _leave_process_group)."""
    import contextlib
    import logging

    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed stream: nothing to save
            stream.flush()
    os._exit(code or 0)


def _run_app() -> None:
    from mlcore.errors import RunFailed

    try:
        app(standalone_mode=True)
    except MlcoreError as err:
        if _State.debug:
            raise
        _record_for_launcher(str(err), printed=_speaks())
        if _speaks():
            _console(stderr=True).print(_labelled("error: ", str(err)))
        sys.exit(2)
    except RunFailed as err:
        if _State.debug:
            raise
        _record_for_launcher(str(err), printed=_speaks())
        if _speaks():
            _console(stderr=True).print(_labelled("run failed: ", str(err)))
        sys.exit(1)
    except KeyboardInterrupt:
        _exit_interrupted()
    except BrokenPipeError:  # `mlcore eval RUN | head`: stop quietly, as Unix tools do
        _quiet_broken_pipe()
    except Exception as err:  # a bug, or a DDP peer lost: the traceback stays; the launcher
        _record_for_launcher(f"{type(err).__name__}: {err}", printed=True)  # the traceback
        raise
    except SystemExit as stop:
        if stop.code == 130 and Interrupts.interrupted and not Interrupts.exiting:
            _exit_interrupted()  # Typer turns a KeyboardInterrupt into a silent Exit(130)
        # Click (inside Typer) meets EPIPE by wrapping stdout in its PacifyFlushWrapper and
        # exiting 1; make that the closed-pipe status too (the class is private: by name).
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            sys.exit(141)
        raise stop from None


def _record_for_launcher(line: str, printed: bool = False) -> None:
    """A DDP rank under PyTorch's elastic launcher (mlcore's own, or torchrun): leave the
    one-line error where the launcher looks, so it can name the rank that failed and why."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    info = {"py_callstack": "", "timestamp": "0", "printed": "yes" if printed else "no"}
    data = {"message": {"message": line, "extraInfo": info}}
    with contextlib.suppress(OSError):  # else the launcher reports the exit status alone
        Path(path).write_text(json.dumps(data))


def _quiet_broken_pipe() -> None:
    """The reader closed the pipe: point stdout at /dev/null so that Python's exit flush
    cannot raise again, and exit with 141 (128 + SIGPIPE), the shell's status for it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(141)
