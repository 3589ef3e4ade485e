"""Checkpoints serialized and written by a child process, off the training thread's GIL.

torch.save pickles every tensor and every small value of a checkpoint in Python code that
holds the GIL, on whichever thread runs it: from the background writer thread it still
stopped the training thread (~1.6 ms an epoch on the digits MLP, whose epochs take ~21 ms).
So the training thread only copies the state's tensors into memory shared with a child
process (one call for all of them; 0.14 ms with the walk over the state for that MLP's 26
tensors, against 0.96 ms for torch.save), and the writer thread sends the child the rest
of the state, plainly pickled (25 us). The child rebuilds each tensor as a view of its
bytes in the shared memory and calls the same torch.save and atomic write
(checkpoint.write_checkpoint) as before, straight into the file: the file is what it was,
and loads with weights_only=True as before.

Linux only. The child is forked when training starts (ready at once; a spawned one would
spend seconds importing torch), before the first batch: a child forked later kept the
pages of everything the training had allocated by then, as the parent rewrote them (160 MB
within 10 s on the segnet; forked at the start, 14 MB). The shared memory is a memfd the
size of the state, made at the first checkpoint and handed over with it (a new one if the
state grows). Elsewhere, or if the child cannot be started, or dies, checkpoints are
serialized on the training thread as before (checkpoint.checkpoint_bytes). The child runs
pickle, torch.save of CPU tensors and file writes, single-threaded; it ignores SIGINT and
SIGTERM (the trainer stops by finishing the write in flight) and ends when told to, or when
the parent is gone. One buffer, one write at a time: the trainer waits for a write before
staging the next.
"""

from __future__ import annotations

import contextlib
import gc
import glob
import mmap
import os
import pickle
import signal
import socket
import struct
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mlcore.training.checkpoint import checkpoint_bytes, write_checkpoint

ALIGN = 64  # each tensor's bytes start on a cache line
ROOM = 1 << 20  # a new buffer's room to grow beyond the state it is made for
# The child ignores both: Ctrl-C reaches the whole process group, and the parent decides
# when the child ends (after the write in flight).
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_HEADER = struct.Struct("<Q")  # the length of each message on the socket


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
    return sys.platform.startswith("linux") and hasattr(os, "memfd_create")


def core_to_spare() -> bool:
    """Whether the training leaves a core free for the child. Where its threads (times the
    DDP ranks on this machine) take every core, the child's few ms an epoch stop one of them
    and the others wait for it at each parallel region: on 2 cores at 2 threads a GAN test
    took 61 s with the child and 49 s without (at 1 thread: 50 s with it, 54 s without)."""
    from mlcore.training.threads import usable_cores

    ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return torch.get_num_threads() * ranks < usable_cores()


# -- the state, split into tensors and the rest ------------------------------------------------
def _split(state: Any, tensors: list[torch.Tensor], seen: dict | None = None) -> Any:
    """The state with each tensor replaced by a _Slot, the tensors appended to `tensors`
    in order. Called every epoch on the training thread: the plain types are checked
    first, exactly (isinstance on every value of a config tree costs more). `seen`: the slot
    of each tensor by where its bytes start, so that tied weights (two state_dict entries
    over one parameter) stay one tensor, stored once and loaded sharing it, as torch.save
    does (a key of data_ptr, shape and strides cost 1 us a tensor, this a third of it)."""
    if seen is None:
        seen = {}
    kind = type(state)
    if kind is dict:
        return {key: _split(value, tensors, seen) for key, value in state.items()}
    if kind is list or kind is tuple:
        return kind(_split(value, tensors, seen) for value in state)
    if isinstance(state, torch.Tensor):
        start = state.data_ptr()  # alone: the rest is compared only when two tensors share it
        index = seen.get(start)
        if index is None or not _same_view(tensors[index], state):
            tensors.append(state)
            index = seen[start] = len(tensors) - 1
        return _Slot(index)
    if isinstance(state, (dict, list, tuple)):  # OrderedDict, named tuples: keep their type
        return _same_kind(state, [_split(value, tensors, seen) for value in _values(state)])
    return state


def _same_view(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (a.device, a.dtype, a.shape, a.stride()) == (b.device, b.dtype, b.shape, b.stride())


def _rebuild(state: Any, tensors: list[torch.Tensor]) -> Any:
    """The inverse of _split."""
    if isinstance(state, _Slot):
        return tensors[state.index]
    if isinstance(state, (dict, list, tuple)):
        return _same_kind(state, [_rebuild(value, tensors) for value in _values(state)])
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


def _size(places: list) -> int:
    return places[-1][0] + places[-1][1] if places else 0


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


def _write_files(write: bytes | Callable, paths: list[Path]) -> None:
    """The checkpoint (its bytes, or a function writing them to a file) to each path:
    best.pt is linked to the last.pt just written."""
    written = None
    for path in paths:
        try:
            write_checkpoint(path, write, same_as=written)
        except OSError as err:  # a full disk, a removed directory
            raise WriteFailed(str(path), str(err)) from None
        written = path


def _write_staged(buffer: Any, skeleton: Any, places: list, paths: list[Path]) -> None:
    state = _rebuild(skeleton, _views(buffer, places))
    _write_files(lambda f: torch.save(state, f), paths)  # straight to the file: no copy


# -- messages -------------------------------------------------------------------------------
def _send(sock: socket.socket, obj: Any, fd: int | None = None) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    message = _HEADER.pack(len(data)) + data
    if fd is None:
        sock.sendall(message)
        return
    sent = socket.send_fds(sock, [message], [fd])  # the descriptor rides on the first byte
    if sent < len(message):
        sock.sendall(message[sent:])


def _receive(sock: socket.socket) -> tuple[Any, int | None]:
    """The next message and the descriptor sent with it (if any); EOFError when the other
    side is gone."""
    header, fds, _, _ = socket.recv_fds(sock, _HEADER.size, 1)
    if not header:
        raise EOFError
    header += _exactly(sock, _HEADER.size - len(header))
    (length,) = _HEADER.unpack(header)
    return pickle.loads(_exactly(sock, length)), (fds[0] if fds else None)


def _exactly(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


# -- the two sides --------------------------------------------------------------------------
class CheckpointProcess:
    """A child process that writes checkpoints staged in memory shared with it."""

    def __init__(self) -> None:
        checkpoint_bytes({"warm": torch.zeros(1)})  # torch.save's lazy imports, made here
        self.buffer: mmap.mmap | None = None
        self._new_fd: int | None = None  # a new buffer's memfd, for the child with the next job
        self._places: list = []  # where each tensor lies in the buffer
        self._signature: list = []  # (dtype, shape) of each tensor staged with _places
        self._targets: list[torch.Tensor] = []  # views of those places, to copy into
        self.pid = -1
        self._sock, child_sock = socket.socketpair()
        # A Ctrl-C in the child before it ignores it would run the parent's handler there:
        # the trainer's stop request (its warning printed twice), or a KeyboardInterrupt that
        # unwinds the child through the trainer's own exit path (summary.json, the console).
        # Held back across the fork: the parent's arrives after it, the child's is dropped.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        # No collection from the fork until the child has frozen what it inherited: one
        # would run the finalizers of the parent's garbage there (a CUDA tensor's, a file's).
        collecting = gc.isenabled()
        gc.disable()
        try:
            with warnings.catch_warnings():  # Python 3.12+: "multi-threaded, fork() may deadlock"
                warnings.simplefilter("ignore", DeprecationWarning)
                self.pid = os.fork()
            if self.pid == 0:  # the child: serve, then leave without the parent's exit code
                code = 1
                try:
                    gc.freeze()  # what it inherited is never collected here
                    if collecting:
                        gc.enable()
                    for stop in _STOP_SIGNALS:  # pending ones are discarded, never delivered
                        signal.signal(stop, signal.SIG_IGN)
                    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                    _close_all_but(child_sock.fileno())
                    code = _serve(child_sock)
                finally:
                    os._exit(code)
            child_sock.close()
        finally:
            if collecting:
                gc.enable()
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a held-back Ctrl-C runs now
            except BaseException:  # a second one (KeyboardInterrupt): this object is never
                self.close()  # returned, so nothing else would end and reap the child
                raise

    @property
    def alive(self) -> bool:
        return self.pid > 0

    def stage(self, skeleton: Any, tensors: list[torch.Tensor]) -> tuple:
        """Copy `tensors` into the buffer (a new one when they do not fit); the message for
        `write`."""
        signature = [(t.dtype, t.shape) for t in tensors]
        if signature != self._signature:  # the first time, or the state changed shape
            places = _places(tensors)
            if self.buffer is None or _size(places) > len(self.buffer):
                self._new_buffer(_size(places) + ROOM)
            self._signature, self._places = signature, places
            self._targets = _views(self.buffer, places)
        with torch.no_grad():
            if tensors and all(t.device.type == "cpu" for t in tensors):
                torch._foreach_copy_(self._targets, tensors)  # one call for them all
            else:  # a GPU's tensors: each copy_ brings its tensor over (and waits for it)
                for target, tensor in zip(self._targets, tensors):
                    target.copy_(tensor)
        return skeleton, self._places

    def _new_buffer(self, size: int) -> None:
        fd = os.memfd_create("mlcore-checkpoint", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            buffer = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self._discard_new_fd()  # a buffer made but never sent: replaced before its write
        self._targets = []
        if self.buffer is not None:
            with contextlib.suppress(BufferError):  # a view still alive: unmapped with it
                self.buffer.close()
        self.buffer, self._new_fd = buffer, fd

    def _discard_new_fd(self) -> None:
        if self._new_fd is not None:
            os.close(self._new_fd)
            self._new_fd = None

    def write(self, message: tuple, paths: list[Path]) -> None:
        """Have the child serialize the staged state and write it to `paths` (best.pt as a
        link to last.pt); block until it has. WriteFailed (path, reason) if a file could not
        be written. If the child has died, the staged state is written from here."""
        try:
            if self._new_fd is not None:  # the child maps each new buffer once
                _send(self._sock, ("buffer", len(self.buffer)), self._new_fd)
                self._discard_new_fd()
            _send(self._sock, ("write", *message, [str(p) for p in paths]))
            result, _ = _receive(self._sock)
        except (OSError, EOFError):  # the child is gone (killed): the bytes are still here
            self.close()
            _remove_temporaries(paths)
            _write_staged(self.buffer, *message, paths)
            return
        if result is not None:
            raise WriteFailed(*result)

    def close(self) -> None:
        """End the child after the write in flight (if any) and reap it. Told to, not left to
        notice the socket's end: worker processes that a DataLoader forked since hold it
        open too."""
        if self.pid <= 0:
            return
        with contextlib.suppress(OSError):
            _send(self._sock, None)
        self._sock.close()
        self._discard_new_fd()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.pid = -1


def _remove_temporaries(paths: list[Path]) -> None:
    """The temporary files of a child killed while it wrote `paths` (atomic_write_bytes's
    and atomic_link's `.NAME.*.tmp`): nothing else writes these names in a run's directory
    (one write at a time, one writing rank), and nothing would remove them later."""
    for path in paths:
        for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _close_all_but(keep: int) -> None:
    """In the child: close every inherited descriptor but stdio and `keep` (a DDP rank's
    sockets, the launcher's pipes: their other ends must see them close with the parent)."""
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))


def _serve(sock: socket.socket) -> int:
    """The child's loop. Messages: ("buffer", size) with a memfd to map; ("write", skeleton,
    places, paths), answered None, or (path, reason) for a file that could not be written;
    None to end."""
    torch.set_num_threads(1)  # never OpenMP after a fork
    buffer = None
    while True:
        try:
            message, fd = _receive(sock)
        except EOFError:  # the parent is gone
            return 0
        if message is None:
            return 0
        if message[0] == "buffer":
            if buffer is not None:
                buffer.close()
            buffer = mmap.mmap(fd, message[1])
            os.close(fd)
            continue
        _, skeleton, places, paths = message
        try:
            _write_staged(buffer, skeleton, places, [Path(p) for p in paths])
            answer = None
        except WriteFailed as err:
            answer = err.args
        except Exception as err:  # noqa: BLE001 - told to the parent, which raises it
            answer = ("(checkpoint process)", f"{type(err).__name__}: {err}")
        try:
            _send(sock, answer)
        except OSError:  # the parent is gone
            return 0


class Checkpointer:
    """Turns a state into a write job for the writer thread: staged for the child process
    where there is one, else serialized here (checkpoint_bytes) as before."""

    def __init__(self, use_process: bool | None = None):
        self.use_process = supported() if use_process is None else use_process
        self.process: CheckpointProcess | None = None

    def start(self) -> None:
        """Fork the child now, before training allocates (see the module's docstring)."""
        if self.use_process and self.process is None:
            try:
                self.process = CheckpointProcess()
            except OSError:  # no fork, no socket: serialize here
                self.use_process = False

    def prepare(self, state: dict[str, Any]) -> Callable[[list[Path]], None]:
        """A function of the paths that writes this state to them (on the writer thread).
        Call it only once the previous one has returned: they share one buffer."""
        process = self.process if self.process is not None and self.process.alive else None
        if process is not None:
            tensors: list[torch.Tensor] = []
            try:
                skeleton = _split(state, tensors)  # a container it cannot rebuild: TypeError
                message = process.stage(skeleton, tensors)
                return lambda paths: process.write(message, paths)
            # no shared memory, a tensor it cannot stage (TypeError; a sparse one's data_ptr
            # is a RuntimeError): from now on, serialized here as before (checkpoint_bytes
            # then says what is really wrong, if anything)
            except (OSError, TypeError, RuntimeError):
                self.close()
        data = checkpoint_bytes(state)  # now: the next step changes the tensors
        return lambda paths: _write_files(data, paths)

    def close(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None
