"""Checkpoints written off the training thread, one at a time.

On the digits MLP, writing last.pt (and summary.json) took about a third of each epoch,
nearly all of it waiting for fsync: the disk, not the CPU. A writer thread does that wait
while the next epoch trains. What it is handed owns its data (checkpoint_process.Checkpointer
prepares it): state_dict() tensors alias the live parameters and optimizer state, which the
next step changes in place. Serializing on this thread does not help: most of torch.save's
time is pickling in Python (~20 us a tensor), which holds the GIL the training thread
needs whichever thread runs it (measured: no faster than on the training thread). So on
Linux a child process serializes and writes, and this thread only waits for it; elsewhere
the training thread serializes and this thread writes the bytes.

At most one write is in flight: `submit` first waits for the previous one, so the files are
written in the order they were submitted and last.pt never lags more than one epoch behind.
An error in the writer (a full disk) is raised in the training thread, at the next
`submit`, `wait` or `close`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable


class CheckpointWriter:
    """Runs write jobs on one background thread, one at a time, in order.

    The thread is started once and kept: starting a thread per write made the training thread
    wait for the new thread to be scheduled (a few ms an epoch on a busy machine). `close`
    ends it (Trainer.fit does, however it ends, after the last write); it is a daemon so that
    a trainer dropped without `close` cannot keep the interpreter alive.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._idle = threading.Event()
        self._idle.set()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], None]) -> None:
        """Wait for the previous job (raising its error), then hand `job` to the thread.
        The job must own its data: nothing the training thread changes afterwards."""
        self.wait()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._serve, name="mlcore-checkpoint-writer", daemon=True
            )
            self._thread.start()
        self._idle.clear()
        self._jobs.put(job)

    def wait(self) -> None:
        """Block until no write is in flight; raise the error of a failed one (once)."""
        try:
            self._idle.wait()
        except KeyboardInterrupt:  # a Ctrl-C here waits the few ms for the file first:
            self._idle.wait()  # the run's summary must not race the write it follows
            raise
        error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        """Wait for the write in flight (raising its error), then end the thread: before
        forking worker processes, and when training ends. A later `submit` starts a new one."""
        try:
            self.wait()
        finally:
            if self._thread is not None:
                self._jobs.put(None)
                self._thread.join()
                self._thread = None

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except BaseException as err:  # handed to the training thread by wait()
                self._error = err
            finally:
                del job  # its data is freed now, not when the next job arrives
                self._idle.set()
