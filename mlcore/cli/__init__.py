"""The `mlcore` command line: thin Typer commands over the library, one module per command
or family (train, evaluate, sample, inspection, memory, sweep); how a command ends (errors, Ctrl-C,
closed pipes, DDP ranks) lives in exits.py, the only place that turns errors into output.

Start-up stays fast: torch and everything that imports it are imported inside the commands
that need them, so `mlcore --help`, `mlcore config` and config errors answer at once.
"""

from __future__ import annotations

from mlcore.interrupts import catch_sigint, exit_before_start

catch_sigint()  # first (under load the imports below took 70 ms): a Ctrl-C from here on
try:  # ends as one line, exit 130; the console script imports this module before main()
    from typing import Annotated

    import typer

    from mlcore.cli import evaluate, exits, inspection, memory, sample, sweep, train
    from mlcore.cli.exits import State as _State
except KeyboardInterrupt:
    exit_before_start()

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: flags read as flags, not as "<bool>" options
    help="Run the fundamentals of machine learning from a short YAML file.",
)


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


# In the order `mlcore --help` lists them: the run's life, then looking, then many runs.
app.command("train")(train.train)
app.command("eval")(evaluate.eval_)
app.command("sample")(sample.sample)
app.command("config")(inspection.config_)
app.command("summary")(inspection.summary)
app.command("runs")(inspection.runs)
app.command("sweep")(sweep.sweep)
app.command("compare")(sweep.compare)
app.command("gpu-mem")(memory.gpu_mem)


def main() -> None:
    """Entry point: user errors exit 2 with one line, failed runs 1, interrupts 130."""
    exits.main(app)


__all__ = ["app", "main"]
