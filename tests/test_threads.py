"""trainer.threads: the intra-op thread count is set, shown, recorded, and a resume at
another count says that its result will not be bit-identical."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import InterruptAt

from mlcore import api
from mlcore.training.trainer import Interrupted

MOONS = {
    "run": {"name": "t", "seed": 1},
    "data": {"name": "moons", "n_samples": 200, "batch_size": 32},
    "model": {"name": "mlp", "hidden": [8]},
    "trainer": {"epochs": 2, "device": "cpu", "threads": 1},
}


@pytest.fixture(autouse=True)
def keep_threads():
    """trainer.threads changes the whole process: give the other tests theirs back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


class Warnings(InterruptAt):
    def __init__(self, at: int = 0):
        super().__init__(at)
        self.lines: list[str] = []

    def warn(self, message: str) -> None:
        self.lines.append(message)


def test_threads_are_set_shown_and_recorded(cli, tmp_path, write_config):
    torch.set_num_threads(2)
    result = cli("train", write_config(MOONS), "--run-dir", tmp_path / "run")
    assert result.code == 0, result
    assert "device: cpu (single), threads: 1 (trainer.threads)" in result.out
    env = json.loads((tmp_path / "run" / "summary.json").read_text())["environment"]
    assert env["threads"] == 1 and env["threads_setting"] == 1
    assert env["cpu_count"] >= 1 and env["torch"] == torch.__version__
    assert {"interop_threads", "cuda", "cudnn", "python", "platform"} <= set(env)


def test_auto_keeps_pytorchs_choice(tmp_path, write_config):
    torch.set_num_threads(2)
    cfg = {**MOONS, "trainer": {**MOONS["trainer"], "threads": "auto", "epochs": 1}}
    run, _ = api.train(write_config(cfg), run_dir=tmp_path / "run")
    env = run.read_summary()["environment"]
    assert env["threads"] == 2 and env["threads_setting"] == "auto"


def test_a_resume_at_another_thread_count_warns_once(tmp_path, write_config):
    path = write_config(MOONS)
    with pytest.raises(Interrupted):
        api.train(path, run_dir=tmp_path / "run", reporter=InterruptAt(3))
    same = Warnings()
    api.train(None, ["trainer.epochs=3"], resume=tmp_path / "run", reporter=same)
    assert not [w for w in same.lines if "this session uses" in w]
    other = Warnings()
    api.train(
        None, ["trainer.epochs=4", "trainer.threads=2"], resume=tmp_path / "run", reporter=other
    )
    lines = [w for w in other.lines if "this session uses" in w]
    assert len(lines) == 1 and "with 1 thread(s), this session uses 2" in lines[0]
    assert "not be bit-identical" in lines[0]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["environment"]["threads"] == 1  # the first session's, kept
    assert [e["threads"] for e in summary["resumed_environment"]] == [1, 2]
    assert lines[0] in (tmp_path / "run" / "train.log").read_text()


def test_more_threads_than_cores_warns_once(tmp_path, write_config, monkeypatch):
    import mlcore.training.threads as threads

    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    cfg = {**MOONS, "trainer": {**MOONS["trainer"], "threads": 4, "epochs": 1}}
    said = Warnings()
    run, _ = api.train(write_config(cfg), run_dir=tmp_path / "run", reporter=said)
    lines = [w for w in said.lines if "core(s)" in w]
    assert lines == [
        "4 threads on 2 core(s): they compete for the cores and each runs slower; use at "
        "most 2 thread(s) per process (trainer.threads)"
    ]
    assert f"warning: {lines[0]}" in run.log.read_text()
    cpu = torch.device("cpu")
    torch.set_num_threads(1)
    assert threads.oversubscription_warning(cpu, 2) is None  # 2 DDP ranks x 1 on 2 cores
    assert "start at most 2 processes" in threads.oversubscription_warning(cpu, 3)
    assert threads.oversubscription_warning(torch.device("cuda"), 8) is None
