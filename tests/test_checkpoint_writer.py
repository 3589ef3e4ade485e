"""Checkpoints written off the training thread: bytes taken at once, order, errors, and
the trainer's files (last.pt every epoch, loadable after an interrupt, the state of its own
epoch)."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest
import torch
from conftest import InterruptAt

from mlcore import api
from mlcore.errors import RunFailed
from mlcore.training import checkpoint_process
from mlcore.training import trainer as trainer_module
from mlcore.training.checkpoint import checkpoint_bytes, write_checkpoint
from mlcore.training.checkpoint_writer import CheckpointWriter
from mlcore.training.trainer import Interrupted

MOONS = {
    "run": {"name": "w", "seed": 3},
    "data": {"name": "moons", "n_samples": 300, "noise": 0.2, "batch_size": 16},
    "model": {"name": "mlp", "hidden": [16, 16], "dropout": 0.2, "batchnorm": True},
    "optimizer": {"name": "adam", "lr": 0.01},
    "trainer": {"epochs": 2, "device": "cpu"},
}


@pytest.fixture(params=["process", "training thread"])
def serialized_by(request, monkeypatch):
    """The trainer's checkpoints serialized by the child process (Linux, where a core is
    spare) or on the training thread (elsewhere): the same files and guarantees either way."""
    if request.param == "training thread":
        monkeypatch.setattr(checkpoint_process, "supported", lambda: False)
        yield request.param
        return
    if not checkpoint_process.supported():
        pytest.skip("the checkpoint process is Linux only")
    monkeypatch.setattr(trainer_module, "core_to_spare", lambda: True)  # whatever the threads
    started = []
    real = checkpoint_process.CheckpointProcess.__init__

    def counted(self, *args, **kwargs):
        started.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(checkpoint_process.CheckpointProcess, "__init__", counted)
    yield request.param
    assert started  # the run did use the child


def test_checkpoint_bytes_do_not_follow_in_place_changes(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = checkpoint_bytes({"model": model.state_dict(), "optimizer": opt.state_dict()})
    with torch.no_grad():
        model.weight.add_(1.0)  # what the next training step does to the live tensors
    opt.step()
    write_checkpoint(tmp_path / "last.pt", data)
    saved = torch.load(tmp_path / "last.pt", weights_only=True)
    for key, value in saved["model"].items():
        assert torch.equal(value, before[key])
    assert saved["optimizer"]["state"][0]["step"] == 1


def test_one_write_in_flight_and_in_order(tmp_path):
    writer, log, release = CheckpointWriter(), [], threading.Event()

    def first() -> None:
        release.wait(5)
        time.sleep(0.05)
        log.append("first")

    writer.submit(first)
    threading.Timer(0.1, release.set).start()
    writer.submit(lambda: log.append("second"))  # waits for `first` before it starts
    assert log[0] == "first"
    writer.close()
    assert log == ["first", "second"]


def writer_threads() -> int:
    return sum(t.name == "mlcore-checkpoint-writer" for t in threading.enumerate())


def test_close_ends_the_thread_after_its_write_and_submit_restarts_it(tmp_path):
    writer, before = CheckpointWriter(), writer_threads()
    for name in ("a", "b"):
        writer.submit(lambda name=name: (time.sleep(0.1), (tmp_path / name).write_text(name)))
        assert writer_threads() == before + 1  # one thread for every write
        writer.close()
        assert (tmp_path / name).read_text() == name and writer_threads() == before


def test_a_failed_write_is_raised_in_the_caller_once():
    writer, ran = CheckpointWriter(), []

    def fail() -> None:
        raise OSError(28, "No space left on device")

    writer.submit(fail)
    with pytest.raises(OSError, match="No space left"):
        writer.submit(lambda: ran.append(1))  # the next write does not start
    assert ran == []
    writer.wait()  # raised once, then the writer is usable again
    writer.submit(lambda: ran.append(2))
    writer.close()
    assert ran == [2]


def test_a_failed_checkpoint_write_fails_the_run(
    tmp_path, write_config, monkeypatch, serialized_by
):
    def full_disk(path, data, same_as=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_process, "write_checkpoint", full_disk)
    with pytest.raises(RunFailed, match=r"last\.pt: cannot write the checkpoint .*No space left"):
        api.train(write_config(MOONS), run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and "No space left" in summary["error"]
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize("summary_fails", [False, True])
def test_a_full_disk_fails_the_run_in_one_line_even_if_the_plots_fail_too(
    tmp_path, write_config, monkeypatch, summary_fails
):
    """The disk that refused last.pt refuses the curves' PNGs next (seen on a full tmpfs):
    that must not replace the run's error with a traceback and leave it `running`."""

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_process, "write_checkpoint", full_disk)
    monkeypatch.setattr(api, "plot_curves", full_disk)
    if summary_fails:  # ...and summary.json: nothing can record it, the error is still told
        real = api.RunDir.update_summary

        def update(self, **fields):
            if fields.get("status") == "failed":
                full_disk()
            return real(self, **fields)

        monkeypatch.setattr(api.RunDir, "update_summary", update)
    with pytest.raises(RunFailed, match=r"last\.pt: cannot write the checkpoint .*No space left"):
        api.train(write_config(MOONS), run_dir=tmp_path / "run")
    status = json.loads((tmp_path / "run" / "summary.json").read_text())["status"]
    assert status == ("running" if summary_fails else "failed")


class RemoveRunAfterEpoch1(InterruptAt):
    """A reporter that removes the run directory at the end of epoch 1 (rm -rf mid-run): its
    train.log line is the first write to fail."""

    def __init__(self, run_dir):
        super().__init__(at=-1)
        self.run_dir = run_dir

    def epoch_end(self, *args) -> None:
        shutil.rmtree(self.run_dir)


def test_a_run_directory_removed_mid_run_fails_the_run_in_one_line(tmp_path, write_config):
    run_dir = tmp_path / "run"
    with pytest.raises(RunFailed, match=r"run/train\.log: No such file or directory"):
        api.train(write_config(MOONS), run_dir=run_dir, reporter=RemoveRunAfterEpoch1(run_dir))


def test_an_interrupt_leaves_a_loadable_last_checkpoint(tmp_path, write_config, serialized_by):
    with pytest.raises(Interrupted):
        api.train(write_config(MOONS), run_dir=tmp_path / "run", reporter=InterruptAt(20))
    run = tmp_path / "run"
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert (state["epoch"], state["batch"], state["step"]) == (2, 6, 20)  # 14 batches an epoch
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs_completed"] == 1


def test_a_slow_write_saves_the_state_of_its_own_epoch(
    tmp_path, write_config, monkeypatch, serialized_by
):
    """The epoch-1 last.pt is written while epoch 2 trains; it must hold epoch 1's weights."""
    one, _ = api.train(
        write_config({**MOONS, "trainer": {"epochs": 1, "device": "cpu"}}),
        run_dir=tmp_path / "one",
    )
    write, kept = checkpoint_process.write_checkpoint, tmp_path / "kept"
    kept.mkdir()

    def slow(path, data, same_as=None):  # runs in the checkpoint process: keeps files
        time.sleep(0.15)  # epoch 2 trains meanwhile, changing the live tensors in place
        write(path, data, same_as)
        if path.name == "last.pt":
            epoch = torch.load(path, weights_only=True)["epoch"]
            shutil.copyfile(path, kept / f"{epoch}.pt")

    monkeypatch.setattr(checkpoint_process, "write_checkpoint", slow)
    api.train(write_config(MOONS), run_dir=tmp_path / "two")
    reference = torch.load(one.last, weights_only=True)
    second = torch.load(kept / "2.pt", weights_only=True)
    for key in ("model", "optimizer"):
        torch.testing.assert_close(second[key], reference[key], rtol=0, atol=0)
    final = torch.load(tmp_path / "two" / "checkpoints" / "last.pt", weights_only=True)
    assert final["epoch"] == 3  # and epoch 2 did change the weights that kept[2] holds
    assert not all(torch.equal(final["model"][k], v) for k, v in reference["model"].items())


def test_summary_is_rewritten_only_when_it_changes(tmp_path):
    from mlcore.training.rundir import create_run_dir

    run = create_run_dir(tmp_path, "s", "run: {}\n")
    run.update_summary(status="running", epochs_completed=1)
    inode = run.summary.stat().st_ino  # an atomic rewrite is a new file (temp + rename)
    assert run.update_summary(status="running")["epochs_completed"] == 1
    assert run.summary.stat().st_ino == inode
    run.update_summary(epochs_completed=2)
    assert run.summary.stat().st_ino != inode
    assert json.loads(run.summary.read_text())["epochs_completed"] == 2


def test_no_write_is_in_flight_when_workers_are_forked(tmp_path, write_config, monkeypatch):
    from test_data import write_images
    from torch.utils.data import DataLoader

    from mlcore.data import loader as loader_module

    write_images(tmp_path / "images")
    writing_at_fork, before = [], writer_threads()

    class Recording(DataLoader):
        def __iter__(self):
            writing_at_fork.append(writer_threads() > before)
            return super().__iter__()

    write = checkpoint_process.write_checkpoint

    def slow(path, data, same_as=None):
        time.sleep(0.15)  # still writing when the next epoch would start its workers
        write(path, data, same_as)

    monkeypatch.setattr(loader_module, "DataLoader", Recording)
    monkeypatch.setattr(checkpoint_process, "write_checkpoint", slow)
    tree = {
        "data": {"name": "image_folder", "root": str(tmp_path / "images"), "batch_size": 4,
                 "num_workers": 1, "split": {"train": 0.5, "val": 0.25, "test": 0.25}},
        "model": {"name": "mlp", "hidden": [8]},
        "trainer": {"epochs": 2, "device": "cpu", "log_grad_norms": False},
    }  # fmt: skip
    _, summary = api.train(write_config(tree), run_dir=tmp_path / "run")
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2
    assert len(writing_at_fork) >= 4 and not any(writing_at_fork)
