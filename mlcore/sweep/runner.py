"""Run a sweep's trials, each as its own `mlcore train` process (failures stay isolated, and
`--jobs` and `--dry-run` run exactly the same commands).

Resume is re-running: completed and early-stopped trials are skipped, interrupted ones go on
with `mlcore train --resume`, failed ones are retried (the failed run directory is moved to
SWEEP_DIR/failed/, kept for reading). Children run in their own session, so a Ctrl-C in the
terminal reaches only this process, which passes exactly one SIGINT to each child: a second
one would make a child stop without saving its current epoch.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcore.child_env import child_env
from mlcore.errors import MlcoreError
from mlcore.interrupts import stop_signals_handled
from mlcore.sweep.spec import SweepSpec, Trial, train_args
from mlcore.sweep.state import DONE, run_path, run_status

POLL_S = 0.05  # how often finished children are collected


@dataclass
class Finished:
    trial: Trial
    record: dict[str, Any]  # status, best, error, duration_s
    seconds: float  # wall time of this process (a resumed trial: this session only)
    done: int  # trials finished so far in this invocation
    total: int  # trials this invocation runs


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads_per_job(jobs: int) -> int:
    """CPU threads per child: the machine's cores split over the jobs, and never more than
    an OMP_NUM_THREADS the user set (so a benchmark at OMP_NUM_THREADS=1 compares like with
    like)."""
    share = max(1, cpu_count() // jobs)
    try:
        return max(1, min(share, int(os.environ["OMP_NUM_THREADS"])))
    except (KeyError, ValueError):
        return share


def action(sweep_dir: Path, trial: Trial, record: dict[str, Any]) -> str:
    """skip | resume | train, from the trial's run directory."""
    status = record["status"]
    if status in DONE:
        return "skip"
    last = run_path(sweep_dir, trial.id) / "checkpoints" / "last.pt"
    if status in ("interrupted", "running") and last.exists():
        return "resume"  # `running` here: a process killed outright (no other sweep runs)
    return "train"


def command(spec: SweepSpec, sweep_dir: Path, trial: Trial, what: str) -> list[str]:
    """The arguments after `mlcore` that run (or resume) a trial."""
    run_dir = run_path(sweep_dir, trial.id)
    if what == "resume":
        return ["train", "--resume", str(run_dir), "--quiet"]
    return train_args(spec, trial, run_dir)


def shell_command(args: list[str]) -> str:
    return shlex.join(["mlcore", *args])


def set_aside(sweep_dir: Path, trial: Trial) -> None:
    """A failed (or half-made) run directory moves to failed/ so the retry starts clean."""
    run_dir = run_path(sweep_dir, trial.id)
    if not run_dir.exists():
        return
    n = 1
    while (target := sweep_dir / "failed" / f"{trial.id}.{n}").exists():
        n += 1
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run_dir), target)


@contextlib.contextmanager
def sweep_lock(sweep_dir: Path) -> Iterator[None]:
    """One `mlcore sweep` per sweep directory at a time."""
    import fcntl

    sweep_dir.mkdir(parents=True, exist_ok=True)
    with (sweep_dir / ".sweep.lock").open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise MlcoreError(f"{sweep_dir}: another mlcore sweep is running there") from None
        yield


def error_line(log: Path) -> str | None:
    """The child's one-line error (`error: ...`, `run failed: ...`), else its last line."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith(("error: ", "run failed: ")):
            return line[:300]
    return lines[-1][:300] if lines else None


class Runner:
    """Runs the given (trial, action) pairs, `jobs` at a time, and reports each finish."""

    def __init__(self, spec: SweepSpec, sweep_dir: Path, jobs: int,
                 on_finish: Callable[[Finished], None]):  # fmt: skip
        self.spec, self.sweep_dir, self.jobs, self.on_finish = spec, sweep_dir, jobs, on_finish
        self.running: dict[subprocess.Popen, tuple[Trial, float, Any]] = {}
        self.stop_signal: int | None = None
        self.env = child_env()  # the trials import this mlcore, wherever they run
        threads = str(threads_per_job(jobs))
        self.env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)

    def run(self, todo: list[tuple[Trial, str]]) -> bool:
        """True when every trial ran to its end; False when a signal stopped the sweep."""
        queue, done = list(todo), 0
        with self._forward_signals():
            try:
                while queue or self.running:
                    while self.stop_signal is None and queue and len(self.running) < self.jobs:
                        self._start(*queue.pop(0))
                    time.sleep(POLL_S)
                    for proc in [p for p in self.running if p.poll() is not None]:
                        done += 1
                        self._collect(proc, done, len(todo))
                    if self.stop_signal is not None and not self.running:
                        break
            except BaseException:  # e.g. sweep.json unwritable: no trial left running alone
                for proc in self.running:
                    proc.send_signal(signal.SIGINT)  # it saves a resumable checkpoint
                for proc in self.running:
                    proc.wait()
                raise
        return self.stop_signal is None

    def _start(self, trial: Trial, what: str) -> None:
        if what == "train":
            set_aside(self.sweep_dir, trial)
        log_path = self.sweep_dir / "logs" / f"{trial.id}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("a")
        args = [sys.executable, "-m", "mlcore", *command(self.spec, self.sweep_dir, trial, what)]
        log.write(f"$ {shell_command(args[3:])}\n")
        log.flush()
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        self.running[proc] = (trial, time.perf_counter(), log)

    def _collect(self, proc: subprocess.Popen, done: int, total: int) -> None:
        trial, t0, log = self.running.pop(proc)
        log.close()
        record = run_status(self.sweep_dir, trial.id)
        code = proc.returncode
        if record["status"] in ("pending", "running") and code != 0:
            # ended before its run directory had a status: a config only the data refuses,
            # a crash, or a signal before training began
            record["status"] = "interrupted" if code in (130, -2, -15) else "failed"
            if record["status"] == "failed":
                record["error"] = error_line(Path(log.name)) or f"exit status {code}"
        elif record["status"] == "failed" and not record.get("error"):
            record["error"] = error_line(Path(log.name))
        self.on_finish(Finished(trial, record, time.perf_counter() - t0, done, total))

    @contextlib.contextmanager
    def _forward_signals(self) -> Iterator[None]:
        def forward(signum: int, _frame: Any) -> None:
            self.stop_signal = signum
            for proc in self.running:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signum)

        with stop_signals_handled(forward):
            yield
