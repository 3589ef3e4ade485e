"""How training looks in a terminal: a Rich progress bar per epoch on a TTY, one plain line
per epoch otherwise (log files and CI never fill up with redrawn bars), nothing but the
final summary with --quiet."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from mlcore.training.trainer import format_row


class ConsoleReporter:
    def __init__(self, console: Console, quiet: bool = False, epochs: int = 0):
        self.console = console
        self.quiet = quiet
        self.bar = console.is_terminal and not quiet
        self.epochs = epochs
        self._progress: Progress | None = None
        self._task: Any = None
        self._t0 = 0.0
        self._start = 0

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, highlight=False)

    def epoch_start(self, epoch: int, epochs: int, batches: int, start: int) -> None:
        self.epochs = epochs
        if not self.bar:
            return
        self._progress = Progress(
            TextColumn(f"epoch {epoch}/{epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[speed]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("", total=batches, completed=start, loss="-", speed="")
        self._t0, self._start = time.perf_counter(), start

    def step(self, batch: int, loss: float) -> None:
        if self._progress is None:
            return
        elapsed = time.perf_counter() - self._t0
        speed = f"{(batch - self._start) / elapsed:.3g} it/s" if elapsed > 0 else ""
        self._progress.update(self._task, completed=batch, loss=f"{loss:.4f}", speed=speed)

    def epoch_end(self, row: dict[str, Any], improved: bool) -> None:
        self._stop_bar()
        if self.quiet:
            return
        mark = "  [green]*best[/]" if improved else ""
        self.console.print(format_row(row, self.epochs) + mark, highlight=False)

    def warn(self, message: str) -> None:
        self._stop_bar()
        self.console.print(f"[yellow]warning:[/] {message}", highlight=False)

    def _stop_bar(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
