"""The trainer on tiny runs: run directory, checkpoints, exact resume, NaN, determinism."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from conftest import InterruptAt

from mlcore import api
from mlcore.errors import RunFailed
from mlcore.training.trainer import Interrupted

MOONS = {
    "run": {"name": "t", "seed": 3},
    "data": {"name": "moons", "n_samples": 300, "noise": 0.2, "batch_size": 16},
    "model": {"name": "mlp", "hidden": [16, 16], "dropout": 0.2, "batchnorm": True},
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    "trainer": {"epochs": 2, "device": "cpu"},
}


def weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def test_run_directory_layout(tmp_path, write_config):
    run, summary = api.train(write_config(MOONS), run_dir=tmp_path / "run")
    names = {p.relative_to(run.path).as_posix() for p in run.path.rglob("*")}
    for required in (
        "config.yaml",
        "metrics.csv",
        "summary.json",
        "train.log",
        "checkpoints/last.pt",
        "checkpoints/best.pt",
        "plots/loss.png",
    ):
        assert required in names
    assert not [n for n in names if ".tmp" in n or n.startswith(".")]
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2
    assert summary["test"]["task"] == "classification" and summary["test"]["split"] == "test"
    for key in ("command", "mlcore_version", "torch_version", "device", "data", "duration_s"):
        assert key in summary
    rows = list(csv.DictReader(run.metrics.open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"train/loss", "val/loss", "val/accuracy", "lr", "seconds"} <= set(rows[0])


def test_two_runs_in_the_same_second_do_not_collide(tmp_path, write_config):
    cfg = write_config({**MOONS, "trainer": {"epochs": 1, "device": "cpu"}})
    a, _ = api.train(cfg, runs_root=tmp_path)
    b, _ = api.train(cfg, runs_root=tmp_path)
    assert a.path != b.path and a.path.parent == b.path.parent


def test_checkpoint_round_trip_gives_the_same_predictions(tmp_path, write_config):
    run, _ = api.train(write_config(MOONS), run_dir=tmp_path / "run")
    state = torch.load(run.best, weights_only=True)
    from mlcore.config import load_config
    from mlcore.training.build import build_parts

    parts = build_parts(load_config(run.config), stats=state["data"]["stats"])
    parts.model.load_state_dict(state["model"])
    parts.model.eval()
    x = parts.data.test.x
    first = parts.model(x)
    report, _ = api.evaluate_run(run.path, "test", "best")
    assert torch.equal(first.argmax(1), api.evaluate_run(run.path)[1].model(x).argmax(1))
    assert report["accuracy"] == json.loads(run.summary.read_text())["test"]["accuracy"]


@pytest.mark.parametrize("at", [5, 14, 20])  # mid-epoch 1, last step of epoch 1, mid-epoch 2
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, write_config, at):
    cfg = write_config(MOONS)
    full, full_summary = api.train(cfg, run_dir=tmp_path / "full")
    with pytest.raises(Interrupted):
        api.train(cfg, run_dir=tmp_path / "cut", reporter=InterruptAt(at))
    cut = tmp_path / "cut"
    assert json.loads((cut / "summary.json").read_text())["status"] == "interrupted"
    state = torch.load(cut / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == at
    run, summary = api.train(None, resume=cut)
    assert run.path == cut and summary["status"] == "completed"
    for name, tensor in weights(full.last).items():
        assert torch.equal(tensor, weights(run.last)[name]), name
    a = list(csv.DictReader(full.metrics.open()))
    b = list(csv.DictReader(run.metrics.open()))
    assert [r["epoch"] for r in b] == ["1", "2"]  # appended, no duplicate rows
    for ra, rb in zip(a, b):
        assert {k: v for k, v in ra.items() if k != "seconds"} == {
            k: v for k, v in rb.items() if k != "seconds"
        }
    assert summary["test"] == full_summary["test"]


def test_resume_can_extend_epochs_in_the_same_directory(tmp_path, write_config):
    run, _ = api.train(write_config(MOONS), run_dir=tmp_path / "run")
    run2, summary = api.train(None, ["trainer.epochs=3"], resume=run.path)
    assert run2.path == run.path and summary["epochs_completed"] == 3
    assert len(summary["resumed_with"]) == 1  # the first command stays in "command"
    assert [r["epoch"] for r in csv.DictReader(run.metrics.open())] == ["1", "2", "3"]


def test_same_config_gives_identical_metrics(tmp_path, write_config):
    cfg = write_config(MOONS)
    runs = [api.train(cfg, run_dir=tmp_path / f"r{i}")[0] for i in range(2)]
    rows = [
        [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(run.metrics.open())]
        for run in runs
    ]
    assert rows[0] == rows[1]


def test_nan_loss_fails_the_run_and_keeps_checkpoints(tmp_path, write_config):
    cfg = {
        **MOONS,
        "optimizer": {"name": "sgd", "lr": 1e6, "momentum": 0.9},
        "model": {"name": "mlp", "hidden": [16]},
        "trainer": {"epochs": 5, "device": "cpu"},
    }
    with pytest.raises(RunFailed, match="epoch .*step"):
        api.train(write_config(cfg), run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and "lower optimizer.lr" in summary["error"]
    for which in ("last", "best"):
        path = tmp_path / "run" / "checkpoints" / f"{which}.pt"
        if path.exists():
            assert all(torch.isfinite(t).all() for t in weights(path).values())


def test_nan_loss_exits_1_through_the_cli(cli, tmp_path, write_config):
    cfg = {
        **MOONS,
        "optimizer": {"name": "sgd", "lr": 1e6, "momentum": 0.9},
        "model": {"name": "mlp", "hidden": [16]},
        "trainer": {"epochs": 5, "device": "cpu"},
    }
    result = cli("train", write_config(cfg), "--run-dir", tmp_path / "run", "--quiet")
    assert result.code == 1 and "loss became" in result.err and "Traceback" not in result.err
    # it failed in epoch 1: say so, and leave no empty checkpoints/ or plots/ behind
    assert "No checkpoint was saved before it." in result.err, result.err
    assert "unchanged" not in result.err
    run = tmp_path / "run"
    assert not (run / "checkpoints").exists() and not (run / "plots").exists()


def test_nan_after_an_epoch_names_the_checkpoints_kept(tmp_path, write_config):
    from mlcore.training import step as step_module

    calls = []
    real = step_module.SupervisedStep.__call__

    def nan_in_epoch_2(self, x, y):  # epoch 1 trains normally, then the loss is NaN
        calls.append(1)
        if len(calls) > 20:  # 210 training samples, batches of 16: 14 steps an epoch
            raise step_module.NonFiniteLoss("nan")
        return real(self, x, y)

    cfg = {**MOONS, "trainer": {"epochs": 3, "device": "cpu"}}
    try:
        step_module.SupervisedStep.__call__ = nan_in_epoch_2
        with pytest.raises(RunFailed, match="best.pt and last.pt keep the weights saved before"):
            api.train(write_config(cfg), run_dir=tmp_path / "run")
    finally:
        step_module.SupervisedStep.__call__ = real


def test_ctrl_c_before_the_first_checkpoint_says_so(cli, tmp_path, write_config, monkeypatch):
    from mlcore.progress import ConsoleReporter

    def second_ctrl_c(self, batch, loss):  # what the trainer raises on a second Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(ConsoleReporter, "step", second_ctrl_c)
    result = cli("train", write_config(MOONS), "--run-dir", tmp_path / "run")
    assert result.code == 130 and "Traceback" not in result.out + result.err
    assert f"{tmp_path / 'run'} holds no checkpoint" in result.out, result.out
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "interrupted"


def test_an_interrupted_creation_leaves_nothing(tmp_path, monkeypatch):
    from mlcore.training import rundir

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(rundir, "_provenance", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rundir.create_run_dir(tmp_path / "runs", "t", "run: {name: t}\n")
    assert not (tmp_path / "runs").exists()  # not even the folders made for it


def test_sigint_through_the_cli_exits_130_and_resumes(cli, tmp_path, write_config, monkeypatch):
    from mlcore.progress import ConsoleReporter

    trigger = InterruptAt(7)
    monkeypatch.setattr(ConsoleReporter, "step", lambda self, b, loss: trigger.step(b, loss))
    result = cli("train", write_config(MOONS), "--run-dir", tmp_path / "run")
    assert result.code == 130, result
    assert "--resume" in result.out
    monkeypatch.undo()
    result = cli("train", "--resume", tmp_path / "run", "--quiet")
    assert result.code == 0, result
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "completed"


def test_early_stopping_sets_the_status(tmp_path, write_config):
    cfg = {
        **MOONS,
        "optimizer": {"name": "sgd", "lr": 1e-7},
        "trainer": {
            "epochs": 10,
            "device": "cpu",
            "early_stopping": {"monitor": "val/loss", "patience": 1, "min_delta": 1.0},
        },
    }
    _, summary = api.train(write_config(cfg), run_dir=tmp_path / "run")
    assert summary["status"] == "early_stopped" and summary["epochs_completed"] == 2


def test_batchnorm_prediction_does_not_depend_on_the_batch(tmp_path, write_config):
    run, _ = api.train(write_config(MOONS), run_dir=tmp_path / "run")
    _, parts = api.evaluate_run(run.path)
    model = parts.model.eval()
    x = parts.data.test.x[:32]
    with torch.no_grad():
        together = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-6)


def test_penalty_is_logged_apart_from_the_data_loss(tmp_path, write_config):
    cfg = {**MOONS, "regularization": {"l1": 1e-3, "l2": 1e-3}}
    run, _ = api.train(write_config(cfg), run_dir=tmp_path / "run")
    row = next(csv.DictReader(run.metrics.open()))
    total, data, penalty = (
        float(row[k]) for k in ("train/loss", "train/data_loss", "train/penalty")
    )
    assert penalty > 0 and total == pytest.approx(data + penalty, rel=1e-5)


def test_a_final_batch_of_one_does_not_break_batchnorm(tmp_path, write_config):
    # 70% of 30 = 21 training samples, batch 20: the last batch would hold one sample
    cfg = {**MOONS, "data": {"name": "moons", "n_samples": 30, "batch_size": 20}}
    _, summary = api.train(write_config(cfg), run_dir=tmp_path / "run")
    assert summary["data"]["sizes"]["train"] == 21
    assert summary["status"] == "completed"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("run.seed=5", "run.seed"),  # a new split: the test set would hold training samples
        ("data.split={train: 0.5, val: 0.25, test: 0.25}", "data.split"),
        ("model.hidden=[64]", "model.hidden"),
        ("optimizer.name=adam", "optimizer.name"),
        ("optimizer.lr=0.5", "optimizer.lr"),
    ],
)
def test_resume_refuses_changes_to_what_the_run_learns_from(cli, tmp_path, write_config,
                                                            override, named):  # fmt: skip
    run = tmp_path / "run"
    assert cli("train", write_config(MOONS), "--run-dir", run, "--quiet").code == 0
    before = (run / "config.yaml").read_text()
    result = cli("train", "--resume", run, "--set", override, "--set", "trainer.epochs=3")
    assert result.code == 2 and named in result.err and "Traceback" not in result.err
    assert (run / "config.yaml").read_text() == before


def test_resume_refuses_more_epochs_of_a_planned_schedule(cli, tmp_path, write_config):
    run = tmp_path / "run"
    cfg = {**MOONS, "scheduler": {"name": "onecycle"}}
    assert cli("train", write_config(cfg), "--run-dir", run, "--quiet").code == 0
    result = cli("train", "--resume", run, "--set", "trainer.epochs=4")
    assert result.code == 2 and "onecycle" in result.err


def test_resume_of_an_early_stopped_run_needs_more_patience(cli, tmp_path, write_config):
    cfg = {**MOONS, "optimizer": {"name": "sgd", "lr": 1e-7},
           "trainer": {"epochs": 10, "device": "cpu",
                       "early_stopping": {"patience": 1, "min_delta": 1.0}}}  # fmt: skip
    run = tmp_path / "run"
    assert cli("train", write_config(cfg), "--run-dir", run, "--quiet").code == 0
    refused = cli("train", "--resume", run)
    assert refused.code == 2 and "trainer.early_stopping.patience" in refused.err
    resumed = cli("train", "--resume", run, "--set", "trainer.early_stopping.patience=3",
                  "--quiet")  # fmt: skip
    assert resumed.code == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "early_stopped" and summary["epochs_completed"] == 4


def test_a_crash_marks_the_run_failed(tmp_path, write_config, monkeypatch):
    from mlcore.evaluation.tasks import Task

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Task, "evaluate", broken)  # the trainer validates through its task
    with pytest.raises(RuntimeError):
        api.train(write_config(MOONS), run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and "disk on fire" in summary["error"]


def test_a_corrupt_checkpoint_is_a_clear_error(cli, tmp_path, write_config):
    run = tmp_path / "run"
    assert cli("train", write_config(MOONS), "--run-dir", run, "--quiet").code == 0
    (run / "checkpoints" / "best.pt").write_bytes(b"not a checkpoint")
    result = cli("eval", run)
    assert result.code == 2 and "best.pt" in result.err
    assert "weights_only=False" not in result.err  # never advise running code from a file


def test_monitor_mode_follows_the_metric(tmp_path, write_config):
    cfg = {**MOONS, "trainer": {"epochs": 3, "device": "cpu",
                                "checkpoint": {"monitor": "val/accuracy"}}}  # fmt: skip
    run, summary = api.train(write_config(cfg), run_dir=tmp_path / "run")
    accuracies = [float(r["val/accuracy"]) for r in csv.DictReader(run.metrics.open())]
    assert summary["best"]["value"] == pytest.approx(max(accuracies))


def test_eval_and_resume_refuse_data_that_changed(cli, tmp_path, write_config):
    rows = [f"{i % 7},{(i * 37) % 11},{i % 2}" for i in range(60)]
    data = tmp_path / "table.csv"
    data.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    cfg = {**MOONS, "data": {"name": "csv", "path": str(data), "target": "label"}}
    run = tmp_path / "run"
    assert cli("train", write_config(cfg), "--run-dir", run, "--quiet").code == 0
    assert cli("eval", run, "--json").code == 0
    data.write_text("a,b,label\n" + "\n".join(reversed(rows)) + "\n")  # same rows, new order
    for args in (["eval", run], ["train", "--resume", run, "--set", "trainer.epochs=3"]):
        result = cli(*args)
        assert result.code == 2 and "differs from what this run trained on" in result.err
