"""Checkpoints written off the training thread, one at a time.

On the digits MLP, writing last.pt (and summary.json) took about a third of each epoch,
nearly all of it waiting for fsync: the disk, not the CPU. A writer thread does that wait
while the next epoch trains. What it writes is a snapshot: state_dict() tensors alias the
live parameters and optimizer state, which the next step changes in place, so every tensor
is copied to the CPU before the thread gets it. At most one write is in flight: `submit`
first waits for the previous one, so the files are written in the order they were
submitted and last.pt never lags more than one epoch behind. An error in the writer (a full
disk) is raised in the training thread, at the next `submit` or `wait`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch


def snapshot(value: Any) -> Any:
    """A copy of a checkpoint tree that nothing in training can change: every tensor copied to
    the CPU, every dict, list and tuple rebuilt; other leaves (numbers, strings) are immutable."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: snapshot(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(snapshot(item) for item in value)
    return value


class CheckpointWriter:
    """Runs write jobs in a background thread, one at a time, in order."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, job: Callable[[], None]) -> None:
        """Wait for the previous job (raising its error), then start `job` in the background.
        The job must own its data (see `snapshot`)."""
        self.wait()
        # Not a daemon: an interpreter that exits while a write is in flight finishes it
        # first, so the file on disk is the old one or the new one, never none.
        self._thread = threading.Thread(
            target=self._run, args=(job,), name="mlcore-checkpoint-writer"
        )
        self._thread.start()

    def wait(self) -> None:
        """Block until no write is in flight; raise the error of a failed one (once)."""
        if self._thread is not None:
            try:
                self._thread.join()
            except KeyboardInterrupt:  # a Ctrl-C here waits the few ms for the file first:
                self._thread.join()  # the run's summary must not race the write it follows
                raise
            finally:
                self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _run(self, job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as err:  # handed to the training thread by wait()
            self._error = err
