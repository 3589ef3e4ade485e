"""Checkpoints serialized by a forked child process: the same files as torch.save on the
training thread, staged before the next step changes the tensors, and a child that never
outlives, blocks or loses a write of the trainer that started it."""

from __future__ import annotations

import collections
import io
import os
import signal
import threading
import time

import pytest
import torch

from mlcore.atomic import atomic_write_bytes
from mlcore.training import checkpoint_process as cp
from mlcore.training.checkpoint import checkpoint_bytes, load_checkpoint

pytestmark = pytest.mark.skipif(not cp.supported(), reason="the checkpoint process is Linux only")


def odd_state() -> dict:
    """What checkpoints hold, and the tensors that are easy to get wrong."""
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    wide = torch.arange(12.0).reshape(3, 4)
    return {
        "model": model.state_dict(),  # an OrderedDict with _metadata
        "optimizer": opt.state_dict(),  # int keys, 0-d step tensors, param_groups
        "rng": (3, torch.arange(5, dtype=torch.int64), None),
        "transposed": wide.t(),  # not contiguous
        "slice": wide[1],  # a view into a bigger storage
        "empty": torch.empty(0, 3),
        "flags": torch.tensor([True, False]),
        "half": torch.ones(2, dtype=torch.float16),
        "scalar": torch.tensor(7),
        "plain": {"epoch": 3, "name": "x", "values": [1.5, None]},
    }


def assert_same(a, b) -> None:
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        assert getattr(a, "__dict__", {}) == getattr(b, "__dict__", {})  # state_dict metadata
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b


def reference(state: dict) -> dict:
    return torch.load(io.BytesIO(checkpoint_bytes(state)), weights_only=True)


def started() -> cp.Checkpointer:
    writer = cp.Checkpointer()
    writer.start()
    assert writer.process is not None and writer.process.alive
    return writer


def test_the_child_writes_what_torch_save_would(tmp_path):
    state = odd_state()
    writer = started()
    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    writer.prepare(state)([last, best])
    assert writer.process is not None and writer.process.alive  # it did run in the child
    assert_same(load_checkpoint(last), reference(state))
    assert best.stat().st_ino == last.stat().st_ino  # best.pt a link to last.pt, as before
    writer.close()


def test_the_state_is_taken_when_staged_not_when_written(tmp_path):
    model = torch.nn.Linear(3, 2)
    writer = started()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    write = writer.prepare({"model": model.state_dict()})
    with torch.no_grad():
        model.weight.add_(1.0)  # the next training step, before the child has written
    write([tmp_path / "last.pt"])
    saved = load_checkpoint(tmp_path / "last.pt")["model"]
    assert all(torch.equal(saved[k], v) for k, v in before.items())
    writer.close()


def test_a_state_that_grows_gets_a_bigger_buffer(tmp_path):
    writer = started()
    writer.prepare({"w": torch.zeros(10)})([tmp_path / "a.pt"])
    first = writer.process.buffer
    big = {"w": torch.arange(1e6, dtype=torch.float64)}  # 8 MB: beyond the room to grow
    writer.prepare(big)([tmp_path / "b.pt"])
    assert writer.process.buffer is not first and len(writer.process.buffer) > 8e6
    assert_same(load_checkpoint(tmp_path / "b.pt"), reference(big))
    small = {"w": torch.ones(3), "v": torch.ones(2, dtype=torch.int64)}  # fits: same buffer
    writer.prepare(small)([tmp_path / "c.pt"])
    assert_same(load_checkpoint(tmp_path / "c.pt"), reference(small))
    writer.close()


def test_a_killed_child_loses_no_checkpoint(tmp_path):
    writer = started()
    writer.prepare({"w": torch.zeros(3)})([tmp_path / "a.pt"])
    os.kill(writer.process.pid, signal.SIGKILL)
    state = {"w": torch.arange(3.0)}
    writer.prepare(state)([tmp_path / "b.pt"])  # written from the parent's copy of the buffer
    assert_same(load_checkpoint(tmp_path / "b.pt"), reference(state))
    assert not writer.process.alive  # reaped; the rest of the run serializes in the parent
    writer.prepare(state)([tmp_path / "c.pt"])
    assert_same(load_checkpoint(tmp_path / "c.pt"), reference(state))
    writer.close()


def test_ctrl_c_to_the_process_group_leaves_the_child_writing(tmp_path):
    writer = started()
    writer.prepare({"w": torch.zeros(3)})([tmp_path / "a.pt"])
    os.kill(writer.process.pid, signal.SIGINT)
    os.kill(writer.process.pid, signal.SIGTERM)
    writer.prepare({"w": torch.ones(3)})([tmp_path / "b.pt"])
    assert writer.process.alive and torch.equal(
        load_checkpoint(tmp_path / "b.pt")["w"], torch.ones(3)
    )
    writer.close()


def test_a_failed_write_names_the_file_and_the_reason(tmp_path, monkeypatch):
    def full_disk(path, data, same_as=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cp, "write_checkpoint", full_disk)  # before the fork: the child has it
    writer = started()
    with pytest.raises(cp.WriteFailed) as failed:
        writer.prepare({"w": torch.zeros(3)})([tmp_path / "last.pt"])
    assert failed.value.args[0] == str(tmp_path / "last.pt")
    assert "No space left" in failed.value.args[1]
    writer.close()


def test_close_is_not_held_up_by_processes_forked_since(tmp_path):
    """A DataLoader's workers, forked after the child, hold its pipe's write end open too:
    the child is told to end rather than left to see the pipe close."""
    writer = cp.Checkpointer()
    writer.prepare({"w": torch.zeros(3)})([tmp_path / "a.pt"])
    holder = os.fork()
    if holder == 0:  # a worker that holds every descriptor for a while
        time.sleep(10)
        os._exit(0)
    try:
        t0 = time.perf_counter()
        writer.close()
        assert time.perf_counter() - t0 < 5
    finally:
        os.kill(holder, signal.SIGKILL)
        os.waitpid(holder, 0)


def test_without_the_process_the_files_are_the_same(tmp_path):
    state = odd_state()
    writer = cp.Checkpointer(use_process=False)
    writer.start()
    writer.prepare(state)([tmp_path / "last.pt"])
    assert writer.process is None
    assert_same(load_checkpoint(tmp_path / "last.pt"), reference(state))


def children() -> set[int]:
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            pids.update(int(pid) for pid in f.read().split())
    return pids


def test_a_run_ends_its_checkpoint_process(tmp_path, write_config, monkeypatch):
    from mlcore import api
    from mlcore.training import trainer

    monkeypatch.setattr(trainer, "core_to_spare", lambda: True)  # whatever the threads
    forked, real_start = [], cp.Checkpointer.start

    def start(self):
        real_start(self)
        forked.append(self.process)

    monkeypatch.setattr(cp.Checkpointer, "start", start)
    tree = {
        "data": {"name": "moons", "n_samples": 200, "batch_size": 32},
        "model": {"name": "mlp", "hidden": [8]},
        "trainer": {"epochs": 2, "device": "cpu"},
    }
    before = children()
    run, summary = api.train(write_config(tree), run_dir=tmp_path / "run")
    assert summary["status"] == "completed" and run.last.is_file()
    assert len(forked) == 1 and forked[0] is not None  # the run had its child...
    assert children() == before  # ...which ended and was reaped: no zombie either


def test_a_state_without_tensors(tmp_path):
    writer = started()
    writer.prepare({"epoch": 1, "rows": [1, 2]})([tmp_path / "a.pt"])
    assert load_checkpoint(tmp_path / "a.pt") == {"epoch": 1, "rows": [1, 2]}
    writer.close()


def test_a_container_it_cannot_rebuild_is_serialized_here(tmp_path):
    """defaultdict(zip(...)) is a TypeError: the state is written as before, not lost."""
    state = {"counts": collections.defaultdict(list, a=[torch.ones(2)])}
    writer = started()
    writer.prepare(state)([tmp_path / "a.pt"])
    assert writer.process is None  # and the rest of the run is serialized here
    saved = torch.load(tmp_path / "a.pt", weights_only=False)  # weights_only refuses defaultdict
    assert torch.equal(saved["counts"]["a"][0], torch.ones(2))


@pytest.mark.parametrize(
    ("odd", "plain"),
    [
        (torch.eye(3).to_sparse(), torch.Tensor.to_dense),  # no storage: data_ptr raises
        (torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.qint8), torch.Tensor.dequantize),
    ],
    ids=["sparse", "quantized"],
)
def test_a_tensor_it_cannot_stage_is_serialized_here(tmp_path, odd, plain):
    state = {"w": torch.ones(2), "odd": odd}
    writer = started()
    writer.prepare(state)([tmp_path / "a.pt"])
    assert writer.process is None
    saved = torch.load(tmp_path / "a.pt", weights_only=False)
    assert torch.equal(plain(saved["odd"]), plain(odd))


def test_tied_weights_are_stored_once_and_load_shared_as_torch_save_does(tmp_path):
    embedding, head = torch.nn.Embedding(50, 8), torch.nn.Linear(8, 50, bias=False)
    head.weight = embedding.weight  # one parameter, two state_dict entries
    state = {"model": torch.nn.ModuleDict({"embedding": embedding, "head": head}).state_dict()}
    writer = started()
    writer.prepare(state)([tmp_path / "a.pt"])
    writer.close()
    saved = load_checkpoint(tmp_path / "a.pt")["model"]
    assert_same(saved, reference(state)["model"])
    assert saved["embedding.weight"].data_ptr() == saved["head.weight"].data_ptr()
    once = len(checkpoint_bytes(state))  # within a record's padding: not a second copy
    assert (tmp_path / "a.pt").stat().st_size < once + embedding.weight.nbytes // 2


def test_a_ctrl_c_at_the_fork_never_runs_the_parents_handler_in_the_child(tmp_path, monkeypatch):
    """The terminal's SIGINT reaches the child too, maybe before it ignores it: with the
    parent's handler the child would print the stop warning, or unwind through the
    trainer's exit path. Here that handler ends whichever child runs it with status 99."""
    parent = os.getpid()

    def handler(_signum, _frame):
        if os.getpid() != parent:
            os._exit(99)

    real_fork = os.fork

    def fork_then_ctrl_c():
        pid = real_fork()
        if pid == 0:
            os.kill(os.getpid(), signal.SIGINT)  # the earliest a Ctrl-C can land
        return pid

    previous = signal.signal(signal.SIGINT, handler)
    try:
        monkeypatch.setattr(os, "fork", fork_then_ctrl_c)
        writer = started()
        monkeypatch.undo()
        writer.prepare({"w": torch.ones(3)})([tmp_path / "a.pt"])
        pid = writer.process.pid
        assert writer.process.alive and os.waitpid(pid, os.WNOHANG) == (0, 0)  # still serving
        writer.close()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_held_back_across_the_fork_does_not_orphan_the_child(monkeypatch):
    """A second Ctrl-C during the fork is delivered when the mask is restored: a
    KeyboardInterrupt out of the constructor, whose child nobody else knows of."""
    parent, real = os.getpid(), signal.pthread_sigmask

    def mask(how, signals):
        previous = real(how, signals)
        if how == signal.SIG_SETMASK and os.getpid() == parent:
            raise KeyboardInterrupt
        return previous

    monkeypatch.setattr(signal, "pthread_sigmask", mask)
    before = children()
    with pytest.raises(KeyboardInterrupt):
        cp.CheckpointProcess()
    monkeypatch.undo()
    assert children() == before  # told to end and reaped


def test_a_child_killed_mid_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    parent = os.getpid()

    def slow_in_the_child(path, write, same_as=None):
        def stall(f):  # the child is killed here, its temporary file half written
            data = io.BytesIO()
            write(data)
            f.write(data.getvalue()[:10])
            if os.getpid() != parent:
                time.sleep(30)
            f.write(data.getvalue()[10:])

        atomic_write_bytes(path, stall)

    monkeypatch.setattr(cp, "write_checkpoint", slow_in_the_child)  # before the fork
    writer = started()
    write_files = writer.prepare({"w": torch.ones(3)})
    pid = writer.process.pid

    def kill_when_the_temporary_appears():
        for _ in range(500):
            if list(tmp_path.glob(".last.pt.*.tmp")):
                break
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_when_the_temporary_appears)
    killer.start()
    write_files([tmp_path / "last.pt"])  # written from here once the child is gone
    killer.join()
    assert torch.equal(load_checkpoint(tmp_path / "last.pt")["w"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    writer.close()


@pytest.mark.parametrize(
    ("threads", "ranks", "cores", "spare"),
    [(1, 1, 2, True), (2, 1, 2, False), (1, 2, 2, False), (3, 2, 8, True), (8, 1, 8, False)],
)
def test_the_child_only_where_a_core_is_spare(monkeypatch, threads, ranks, cores, spare):
    from mlcore.training import threads as threads_module

    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    monkeypatch.setattr(threads_module, "usable_cores", lambda: cores)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(ranks))
    assert cp.core_to_spare() is spare
