"""How a command ends: one line per user error (exit 2) or failed run (exit 1), 130 for a
Ctrl-C, 141 for a closed pipe, and a DDP rank's exit without Python's finalization.

Everything here runs around the Typer app (see `run_app`); the commands themselves only
raise MlcoreError / RunFailed or return.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import typer

from mlcore.errors import MlcoreError
from mlcore.interrupts import State as Interrupts
from mlcore.interrupts import command


class State:
    debug = False
    left_process_group = False  # this process was a DDP rank: see exit_rank


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    out = Console(stderr=stderr, highlight=False, soft_wrap=True)
    out.on_broken_pipe = quiet_broken_pipe  # Rich's own exits 1
    if not out.is_terminal:  # a log file or pipe has no width: do not squeeze tables
        out.width = max(out.width, 240)  # (compare has 8 columns of mean ± std)
    return out


def labelled(label: str, message: str) -> Any:
    from rich.text import Text

    return Text.assemble((label, "bold red"), message)  # no markup parsing of the message


def main(app: typer.Typer) -> None:
    """Entry point: user errors exit 2 with one line, failed runs 1, interrupts 130."""
    from mlcore.interrupts import catch_sigint

    catch_sigint()
    try:
        run_app(app)
    except SystemExit as stop:
        if State.left_process_group:
            exit_rank(stop.code)
        raise
    except BaseException:
        if not Interrupts.interrupted or State.debug:
            raise
        exit_interrupted()  # whatever the interrupt surfaced as: one line, never a traceback


def run_app(app: typer.Typer) -> None:
    from mlcore.errors import RunFailed

    try:
        code = _invoke(app)
    except MlcoreError as err:
        if State.debug:
            raise
        _fail(2, "error: ", str(err))
    except RunFailed as err:
        if State.debug:
            raise
        _fail(1, "run failed: ", str(err))
    except KeyboardInterrupt:
        exit_interrupted()
    except BrokenPipeError:  # `mlcore eval RUN | head`: stop quietly, as Unix tools do
        quiet_broken_pipe()
    except Exception as err:  # a bug, or a DDP peer lost: the traceback stays; the launcher
        record_for_launcher(f"{type(err).__name__}: {err}", printed=True)  # the traceback
        raise
    except SystemExit as stop:
        # Click (inside Typer) meets EPIPE by wrapping stdout in its PacifyFlushWrapper and
        # exiting 1; make that the closed-pipe status too (the class is private: by name).
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            sys.exit(141)
        raise stop from None
    if code == 130 and Interrupts.interrupted and not Interrupts.exiting:
        exit_interrupted()  # Typer turns a KeyboardInterrupt into a silent Exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _invoke(app: typer.Typer) -> Any:
    """Run the app in Click's non-standalone mode, so that a usage mistake (an unknown flag,
    a bad choice, a missing argument) reaches here and is one line like every other error,
    instead of Click's usage block. Returns the exit code of a `typer.Exit`, or None."""
    click = _click_exceptions()
    try:
        return app(standalone_mode=False)
    except getattr(click, "NoArgsIsHelpError", ()) as err:  # bare `mlcore`: the help is
        # the answer (Click >= 8.2 raises it; older Click printed the help and exited)
        err.show()
        return err.exit_code
    except click.UsageError as err:
        where = err.ctx.command_path if err.ctx is not None else "mlcore"
        # Typer checks values with pydantic, whose messages start "Value error, "
        message = err.format_message().replace("Value error, ", "").rstrip(".")
        raise MlcoreError(f"{where}: {message} (see {where} --help)") from None
    except click.ClickException as err:
        raise MlcoreError(err.format_message()) from None
    except typer.Abort:  # Click's answer to an EOF at a prompt
        raise KeyboardInterrupt from None


def _click_exceptions() -> Any:
    """Click's exception classes as Typer raises them: recent Typer vendors Click as
    typer._click, older releases use the click package."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


def _fail(code: int, label: str, line: str) -> None:
    record_for_launcher(line, printed=speaks())
    if speaks():
        console(stderr=True).print(labelled(label, line))
    sys.exit(code)


def leave_process_group(together: bool) -> None:
    """End this DDP rank's part. `together`: wait at a barrier first, so that no rank reaches
    interpreter exit while gloo's worker thread still releases the tensors of its last
    collective: that release takes the GIL, and during finalization it aborts the process
    ("terminate called without an active exception", pytorch#190489; in torch 2.14
    destroy_process_group does not join those threads). The barrier narrows that window
    but cannot close it (the barrier's own work holds the earlier ones), so the rank then
    leaves without interpreter finalization: `exit_rank`."""
    dist = sys.modules.get("torch.distributed")  # never imported here: after a Ctrl-C
    # inside torch's own import, importing it again fails ("cannot load module more than
    # once per process")
    if dist is not None and dist.is_available() and dist.is_initialized():
        if together:
            dist.barrier()
        dist.destroy_process_group()
        State.left_process_group = True


def interrupted_line(run_path: Path | None = None) -> str:
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


def exit_interrupted() -> None:
    Interrupts.exiting = True
    if speaks():
        typer.echo(interrupted_line(_resumed_path()) if command() == "train" else "interrupted")
    sys.exit(130)


def speaks() -> bool:
    """Under DDP only rank 0 prints what every rank knows alike (a config error, the agreed
    NaN stop, an interrupt); each rank records its own error for the launcher, which names
    another rank's when that one failed first."""
    return os.environ.get("RANK", "0") == "0"


def exit_rank(code: int | str | None) -> None:
    """A DDP rank's exit: everything it writes is written (run files atomically, before
    this); flush the streams and end without Python's finalization, during which a gloo
    worker thread still releasing a collective's tensors aborts the process (SIGABRT
    instead of this status; see leave_process_group)."""
    import logging

    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed stream: nothing to save
            stream.flush()
    os._exit(code or 0)


def record_for_launcher(line: str, printed: bool = False) -> None:
    """A DDP rank under PyTorch's elastic launcher (mlcore's own, or torchrun): leave the
    one-line error where the launcher looks, so it can name the rank that failed and why."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    info = {"py_callstack": "", "timestamp": "0", "printed": "yes" if printed else "no"}
    data = {"message": {"message": line, "extraInfo": info}}
    with contextlib.suppress(OSError):  # else the launcher reports the exit status alone
        Path(path).write_text(json.dumps(data))


def quiet_broken_pipe() -> None:
    """The reader closed the pipe: point stdout at /dev/null so that Python's exit flush
    cannot raise again, and exit with 141 (128 + SIGPIPE), the shell's status for it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(141)
