"""Checkpoints serialized and written by a forked process, off the training thread's GIL.

torch.save pickles every tensor and every small value of a checkpoint in Python code that
holds the GIL, on whichever thread runs it: from the background writer thread it still
stopped the training thread (~1.6 ms an epoch on the digits MLP, whose epochs take ~21 ms).
So the training thread only copies the state's tensors into a buffer shared with a child
process (one call for all of them; 0.11 ms with the walk over the state for that MLP's 26
tensors, against 0.96 ms for torch.save), and the writer thread sends the child the rest
of the state, plainly pickled (25 us). The child rebuilds each tensor as a view of its
bytes in the buffer and calls the same torch.save and atomic write
(checkpoint.write_checkpoint) as before: the file is what it was, and loads with
weights_only=True as before.

Linux only: the child is forked (ready at once; a spawned one would spend seconds importing
torch) and forking is unsafe where system frameworks keep threads of their own (macOS).
Elsewhere, or if the child cannot be started, checkpoints are serialized on the training
thread as before (checkpoint.checkpoint_bytes). The child only runs pickle, torch.save of
CPU tensors and file writes, single-threaded; it ignores SIGINT and SIGTERM (the trainer
stops by finishing the write in flight) and ends when the parent tells it to, or dies.
One buffer, one write at a time: the trainer waits for a write before staging the next.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import pickle
import signal
import struct
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from mlcore.training.checkpoint import checkpoint_bytes, write_checkpoint

ALIGN = 64  # each tensor's bytes start on a cache line
_HEADER = struct.Struct("<Q")  # the length of each message on the pipes


class _Slot:
    """Stands for the state's i-th tensor in what is sent to the child."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __reduce__(self) -> tuple:
        return _Slot, (self.index,)


class WriteFailed(Exception):  # noqa: N818 - a file could not be written: (path, reason)
    pass


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def _split(state: Any, tensors: list[torch.Tensor]) -> Any:
    """The state with each tensor replaced by a _Slot, the tensors appended to `tensors`
    in order. Called every epoch on the training thread: the plain types are checked
    first, exactly (isinstance on every value of a config tree costs more)."""
    kind = type(state)
    if kind is dict:
        return {key: _split(value, tensors) for key, value in state.items()}
    if kind is list or kind is tuple:
        return kind(_split(value, tensors) for value in state)
    if isinstance(state, torch.Tensor):
        tensors.append(state)
        return _Slot(len(tensors) - 1)
    if isinstance(state, (dict, list, tuple)):  # OrderedDict, named tuples: keep their type
        return _same_kind(state, [_split(value, tensors) for value in _values(state)])
    return state


def _values(state: dict | list | tuple) -> Any:
    return state.values() if isinstance(state, dict) else state


def _same_kind(state: dict | list | tuple, values: list) -> Any:
    """A container of `state`'s own type holding `values` (a dict's under its keys), with
    its attributes: a module's state_dict is an OrderedDict whose `_metadata` (each
    module's version) load_state_dict reads."""
    kind = type(state)
    if isinstance(state, dict):
        out = kind(zip(state.keys(), values))
    else:
        out = kind(*values) if hasattr(state, "_fields") else kind(values)
    if getattr(state, "__dict__", None):
        out.__dict__.update(state.__dict__)
    return out


def _places(tensors: list[torch.Tensor]) -> list[tuple[int, int, str, tuple[int, ...]]]:
    """(offset, nbytes, dtype name, shape) of each tensor in the buffer."""
    places, end = [], 0
    for t in tensors:
        if t.layout != torch.strided or t.is_quantized or t.device.type == "meta":
            raise TypeError(f"cannot stage a {t.layout} tensor")
        offset = -(-end // ALIGN) * ALIGN
        nbytes = t.numel() * t.element_size()
        places.append((offset, nbytes, str(t.dtype).removeprefix("torch."), tuple(t.shape)))
        end = offset + nbytes
    return places


def _rebuild(state: Any, tensors: list[torch.Tensor]) -> Any:
    """The inverse of _split."""
    if isinstance(state, _Slot):
        return tensors[state.index]
    if isinstance(state, (dict, list, tuple)):
        return _same_kind(state, [_rebuild(value, tensors) for value in _values(state)])
    return state


def _views(buffer: Any, places: list) -> list[torch.Tensor]:
    """One tensor over each place's bytes in `buffer`, each a storage of its own (torch.save
    then writes each tensor's bytes alone, as it would for the original tensors)."""
    views = []
    for offset, nbytes, dtype_name, shape in places:
        dtype = getattr(torch, dtype_name)
        if nbytes == 0:
            views.append(torch.empty(shape, dtype=dtype))
            continue
        flat = torch.frombuffer(buffer, dtype=torch.uint8, count=nbytes, offset=offset)
        views.append(flat.view(dtype).view(shape))
    return views


def _write_files(data: bytes, paths: list[Path]) -> None:
    written = None  # best.pt is linked to the last.pt just written (same bytes)
    for path in paths:
        try:
            write_checkpoint(path, data, same_as=written)
        except OSError as err:  # a full disk, a removed directory
            raise WriteFailed(str(path), str(err)) from None
        written = path


def _send(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> Any:
    """The next message, or EOFError when the other side has closed its end."""

    def exactly(n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = os.read(fd, left)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    (length,) = _HEADER.unpack(exactly(_HEADER.size))
    return pickle.loads(exactly(length))


class CheckpointProcess:
    """A child process that writes checkpoints staged in a buffer shared with it."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.buffer = mmap.mmap(-1, capacity)  # anonymous and shared: the child sees it
        self._signature: list = []  # (dtype, shape) of each tensor last staged
        self._places: list = []  # and where each lies in the buffer
        self._targets: list[torch.Tensor] = []  # views of those places, to copy into
        checkpoint_bytes({"warm": torch.zeros(1)})  # torch.save's lazy imports, made here
        jobs_read, self._jobs = os.pipe()
        self._results, results_write = os.pipe()
        with warnings.catch_warnings():  # Python 3.12+: "multi-threaded, fork() may deadlock"
            warnings.simplefilter("ignore", DeprecationWarning)
            self.pid = os.fork()
        if self.pid == 0:  # the child: serve, then leave without running the parent's exit code
            code = 1
            try:
                _close_all_but(jobs_read, results_write)
                code = _serve(jobs_read, results_write, self.buffer)
            finally:
                os._exit(code)
        os.close(jobs_read)
        os.close(results_write)

    @property
    def alive(self) -> bool:
        return self.pid > 0

    def stage(self, skeleton: Any, tensors: list[torch.Tensor]) -> tuple | None:
        """Copy `tensors` into the buffer; the message for `write`, or None when they do
        not fit (nothing copied: a bigger buffer is needed)."""
        signature = [(t.dtype, t.shape) for t in tensors]
        if signature != self._signature:  # the first time, or the state changed shape
            places = _places(tensors)
            if places and places[-1][0] + places[-1][1] > self.capacity:
                return None
            self._signature, self._places = signature, places
            self._targets = _views(self.buffer, places)
        with torch.no_grad():
            if all(t.device.type == "cpu" for t in tensors):
                torch._foreach_copy_(self._targets, tensors)  # one call for them all
            else:  # a GPU's tensors: each copy_ brings its tensor over (and waits for it)
                for target, tensor in zip(self._targets, tensors):
                    target.copy_(tensor)
        return skeleton, self._places

    def write(self, message: tuple, paths: list[Path]) -> None:
        """Have the child serialize the staged state and write it to `paths` (best.pt as a
        link to last.pt); block until it has. WriteFailed (path, reason) if a file could not
        be written. If the child has died, the staged state is written from here."""
        try:
            _send(self._jobs, (*message, [str(p) for p in paths]))
            result = _receive(self._results)
        except (OSError, EOFError):  # the child is gone (killed): the bytes are still here
            self.close()
            _write_files(_serialize(self.buffer, *message), paths)
            return
        if result is not None:
            raise WriteFailed(*result)

    def close(self) -> None:
        """End the child after the write in flight (if any) and reap it. Told to, not left to
        notice the pipe's end: worker processes that a DataLoader forked since hold that end
        open too."""
        if self.pid <= 0:
            return
        with contextlib.suppress(OSError):
            _send(self._jobs, None)
        for fd in (self._jobs, self._results):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.pid = -1


def _serialize(buffer: Any, skeleton: Any, places: list) -> bytes:
    """The checkpoint file's bytes, from a staged state."""
    return checkpoint_bytes(_rebuild(skeleton, _views(buffer, places)))


def _close_all_but(*keep: int) -> None:
    """In the child: close every inherited descriptor but stdio and `keep` (a DDP rank's
    sockets, the launcher's pipes: their other ends must see them close with the parent)."""
    start = 3
    for fd in sorted(keep):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX"))


def _serve(jobs: int, results: int, buffer: Any) -> int:
    """The child's loop: each job is (skeleton, places, paths), None to end; the answer
    None, or (path, reason) for a file that could not be written."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the parent decides when this one ends
    gc.freeze()  # never collect the parent's objects here (a CUDA tensor's finalizer, say)
    torch.set_num_threads(1)  # never OpenMP after a fork
    while True:
        try:
            job = _receive(jobs)
        except EOFError:  # the parent is gone
            return 0
        if job is None:
            return 0
        skeleton, places, paths = job
        try:
            _write_files(_serialize(buffer, skeleton, places), [Path(p) for p in paths])
            answer = None
        except WriteFailed as err:
            answer = err.args
        except Exception as err:  # noqa: BLE001 - told to the parent, which raises it
            answer = ("(checkpoint process)", f"{type(err).__name__}: {err}")
        try:
            _send(results, answer)
        except OSError:  # the parent is gone
            return 0


class Checkpointer:
    """Turns a state into a write job for the writer thread: staged for the child process
    where there is one, else serialized here (checkpoint_bytes) as before."""

    def __init__(self, use_process: bool | None = None):
        self.use_process = supported() if use_process is None else use_process
        self.process: CheckpointProcess | None = None

    def prepare(self, state: dict[str, Any]):
        """A function of the paths that writes this state to them (on the writer thread).
        Call it only once the previous one has returned: they share one buffer."""
        message = self._stage(state) if self.use_process else None
        if message is None:
            data = checkpoint_bytes(state)  # now: the next step changes the tensors
            return lambda paths: _write_files(data, paths)
        process = self.process
        return lambda paths: process.write(message, paths)

    def _stage(self, state: dict[str, Any]) -> tuple | None:
        tensors: list[torch.Tensor] = []
        skeleton = _split(state, tensors)
        try:
            if self.process is not None and self.process.alive:
                message = self.process.stage(skeleton, tensors)
                if message is not None:
                    return message
                self.process.close()  # the state has grown: a bigger buffer
            places = _places(tensors)
            size = places[-1][0] + places[-1][1] if places else 0
            self.process = CheckpointProcess(size + (1 << 20))  # + room to grow a little
            return self.process.stage(skeleton, tensors)
        except (OSError, TypeError):  # no fork, no shared memory, a tensor it cannot stage
            self.close()
            self.use_process = False
            return None

    def close(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None
