"""`mlcore sweep`: trials (grid x variants x seeds), ids, dry-run commands, validation before
anything runs, resume, failures recorded, and the `sweep:` section ignored by training."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from mlcore.config import load_config
from mlcore.errors import MlcoreError
from mlcore.sweep.runner import action, threads_per_job
from mlcore.sweep.spec import build_spec, format_value, make_trials, split_values

BASE = {
    "run": {"name": "sw", "seed": 0},
    "data": {"name": "moons", "n_samples": 200, "batch_size": 32},
    "model": {"name": "mlp", "hidden": [8]},
    "trainer": {"epochs": 1, "device": "cpu", "log_grad_norms": False},
}
SWEEP = {
    "grid": {"optimizer.lr": [0.1, 0.01]},
    "variants": {"sgd": {"optimizer.name": "sgd"}, "adam": {"optimizer.name": "adam"}},
    "seeds": 2,
    "metric": "val/accuracy",
}


def sweep_file(write_config, sweep=SWEEP) -> Path:
    path = write_config({}, "exp.yaml")  # written in order here: the file's order is the ids'
    path.write_text(yaml.safe_dump({**BASE, "sweep": sweep}, sort_keys=False))
    return path


def test_trials_are_variants_x_grid_x_seeds_with_readable_ids(write_config):
    trials = make_trials(build_spec(sweep_file(write_config)))
    assert [t.id for t in trials] == [
        "sgd,optimizer.lr=0.1,seed=0", "sgd,optimizer.lr=0.1,seed=1",
        "sgd,optimizer.lr=0.01,seed=0", "sgd,optimizer.lr=0.01,seed=1",
        "adam,optimizer.lr=0.1,seed=0", "adam,optimizer.lr=0.1,seed=1",
        "adam,optimizer.lr=0.01,seed=0", "adam,optimizer.lr=0.01,seed=1",
    ]  # fmt: skip
    first = trials[0]
    assert first.variant == "sgd,optimizer.lr=0.1" and first.seed == 0
    assert first.overrides == ("optimizer.name=sgd", "optimizer.lr=0.1")


def test_grid_product_and_flags_override_the_file(write_config):
    path = sweep_file(write_config, sweep={"grid": {"optimizer.lr": [0.1], "model.hidden": [[8]]}})
    spec = build_spec(path, ["optimizer.lr=0.5,1e-3", "optimizer.name=sgd,adam,rmsprop"],
                      seed_list="3,7")  # fmt: skip
    assert spec.grid == {"optimizer.lr": [0.5, 0.001], "model.hidden": [[8]],
                         "optimizer.name": ["sgd", "adam", "rmsprop"]}  # fmt: skip
    trials = make_trials(spec)
    assert len(trials) == 2 * 1 * 3 * 2
    assert trials[0].id == "optimizer.lr=0.5,model.hidden=_8_,optimizer.name=sgd,seed=3"
    assert trials[-1].id == "optimizer.lr=0.001,model.hidden=_8_,optimizer.name=rmsprop,seed=7"
    assert build_spec(path).seeds == (0,)  # no seeds anywhere: the config's run.seed


def test_values_round_trip_as_set_text():
    assert split_values("[64,64],[32],{a: 1}") == ["[64,64]", "[32]", "{a: 1}"]
    from mlcore.config import safe_load

    for value in (0.01, 1e-5, 3, True, None, "adam", "1e-3", [64, 64], "null"):
        assert safe_load(format_value(value)) == value


def test_long_ids_use_short_keys(write_config):
    grid = {f"regularization.{k}": [0.0, 0.001] for k in ("l1", "l2")}
    grid["model.hidden"] = [[256, 256, 256, 256, 256, 256, 256, 256], [8]]
    grid["optimizer.weight_decay"] = [0.0]
    trials = make_trials(build_spec(sweep_file(write_config, sweep={"grid": grid})))
    assert trials[0].id.startswith("l1=0.0,l2=0.0,hidden=_256,")
    assert all(len(t.id) <= 120 for t in trials) and len({t.id for t in trials}) == 8


def test_dry_run_prints_one_command_per_trial_and_writes_sweep_json(cli, write_config, tmp_path):
    out = tmp_path / "sw"
    result = cli("sweep", sweep_file(write_config), "--sweep-dir", out, "--dry-run")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert len(lines) == 8
    args = shlex.split(lines[0])
    assert args[:3] == ["mlcore", "train", str(tmp_path / "exp.yaml")]
    assert args[3:] == ["--set", "optimizer.name=sgd", "--set", "optimizer.lr=0.1",
                        "--set", "run.seed=0", "--run-dir",
                        str(out / "runs" / "sgd,optimizer.lr=0.1,seed=0"), "--quiet"]  # fmt: skip
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["seeds"] == [0, 1] and doc["metric"] == "val/accuracy"
    assert [t["status"] for t in doc["trials"]] == ["pending"] * 8
    assert doc["trials"][0]["run_dir"] == "runs/sgd,optimizer.lr=0.1,seed=0"
    assert not (out / "runs").exists()


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("optimizer.lr=0.1,-1", "optimizer.lr"),
        ("optimizer.nmae=sgd", "unknown key"),
        ("optimizer.name=sgd,adm", "did you mean 'adam'"),
        ("run.seed=1,2", "--seeds"),
        ("optimizer.lr", "expected KEY=V1,V2"),
        (["optimizer.lr=0.1", "optimizer.lr=0.01"], "given twice"),
    ],
)
def test_a_bad_grid_fails_in_one_line_before_anything_runs(cli, write_config, tmp_path, flag,
                                                           message):  # fmt: skip
    out = tmp_path / "sw"
    flags = [arg for f in ([flag] if isinstance(flag, str) else flag) for arg in ("--grid", f)]
    result = cli("sweep", write_config(BASE), *flags, "--sweep-dir", out)
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err and not out.exists()


def test_a_sweep_dir_of_another_grid_is_refused(cli, write_config, tmp_path):
    config, out = write_config(BASE), tmp_path / "sw"
    assert cli("sweep", config, "--grid", "optimizer.lr=0.1", "--sweep-dir", out,
               "--dry-run").code == 0  # fmt: skip
    result = cli("sweep", config, "--grid", "optimizer.lr=0.2", "--sweep-dir", out, "--dry-run")
    assert result.code == 2 and "different grid" in result.err
    result = cli("sweep", config, "--grid", "optimizer.lr=0.1", "--sweep-dir", out, "--dry-run",
                 "--set", "model.hidden=[4]")  # fmt: skip
    assert result.code == 2 and "different base config" in result.err


def test_sweep_section_is_ignored_by_training(cli, write_config, tmp_path):
    path = sweep_file(write_config)
    assert load_config(path).optimizer.name == "adam"  # the base config's default
    result = cli("config", path)
    assert result.code == 0 and "sweep" not in yaml.safe_load(result.out)
    result = cli("train", path, "--run-dir", tmp_path / "run")
    assert result.code == 0 and "completed: 1 epoch" in result.out
    assert not [line for line in result.out.splitlines() if line.startswith("warning")]
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert "sweep" not in saved and saved["optimizer"]["name"] == "adam"
    only = write_config({"sweep": {"seeds": 2}}, "only.yaml")
    for command in ("train", "sweep"):
        result = cli(command, only)
        assert result.code == 2 and "only a sweep section" in result.err
    with pytest.raises(MlcoreError, match="unknown key"):
        build_spec(sweep_file(write_config, sweep={"grids": {}}))


def test_resume_actions_from_run_status(tmp_path):
    from mlcore.sweep.spec import Trial

    trial = Trial("a,seed=0", "a", (), 0)
    last = tmp_path / "runs" / "a,seed=0" / "checkpoints" / "last.pt"
    assert action(tmp_path, trial, {"status": "completed"}) == "skip"
    assert action(tmp_path, trial, {"status": "early_stopped"}) == "skip"
    assert action(tmp_path, trial, {"status": "interrupted"}) == "train"  # nothing saved yet
    last.parent.mkdir(parents=True)
    last.write_bytes(b"")
    assert action(tmp_path, trial, {"status": "interrupted"}) == "resume"
    assert action(tmp_path, trial, {"status": "failed"}) == "train"
    assert action(tmp_path, trial, {"status": "pending"}) == "train"


def test_threads_are_split_over_jobs(monkeypatch):
    monkeypatch.setattr("mlcore.sweep.runner.cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert [threads_per_job(j) for j in (1, 2, 3, 16)] == [8, 4, 2, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads_per_job(2) == 1


@pytest.mark.slow
def test_a_failing_trial_is_recorded_and_a_rerun_runs_only_what_is_missing(
    cli, write_config, tmp_path, monkeypatch
):
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the children run this checkout's mlcore
    # a cnn on 2-D points passes validation and fails when the parts are built
    variants = {"mlp": {"model.name": "mlp"}, "cnn": {"model.name": "cnn"}}
    config = sweep_file(write_config, sweep={"variants": variants})
    out = tmp_path / "sw"
    result = cli("sweep", config, "--sweep-dir", out, "--seed-list", "0", "--jobs", "2")
    assert result.code == 1, result
    assert "mlp,seed=0  completed" in result.out and "cnn,seed=0  failed" in result.out
    assert "1 trial failed" in result.out
    doc = json.loads((out / "sweep.json").read_text())
    status = {t["id"]: t for t in doc["trials"]}
    assert status["mlp,seed=0"]["status"] == "completed"
    assert status["cnn,seed=0"]["status"] == "failed"
    assert "cnn needs image data" in status["cnn,seed=0"]["error"]
    summary = json.loads((out / "runs" / "mlp,seed=0" / "summary.json").read_text())
    assert summary["status"] == "completed"

    # more seeds on the same sweep: the done trial is skipped, the failed one retried
    result = cli("sweep", config, "--sweep-dir", out, "--seeds", "2")
    assert result.code == 1, result
    ran = [line.split()[1] for line in result.out.splitlines() if line.startswith("[")]
    assert sorted(ran) == ["cnn,seed=0", "cnn,seed=1", "mlp,seed=1"]
    assert "4 trials, 1 already done" in result.out


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(write_config, tmp_path):
    """A real SIGINT to `mlcore sweep` mid-trial: the trial saves and is `interrupted`; the
    same command again resumes it with `mlcore train --resume` and completes it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    config = sweep_file(write_config, sweep={"seeds": 1})
    out = tmp_path / "sw"
    # enough epochs to be still training when the signal comes
    cmd = [sys.executable, "-m", "mlcore", "sweep", str(config), "--sweep-dir", str(out),
           "--set", "trainer.epochs=150"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    metrics = out / "runs" / "seed=0" / "metrics.csv"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") > 3):
        assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    text, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, text
    assert "seed=0  interrupted" in text and "resume with `mlcore sweep" in text
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["trials"][0]["status"] == "interrupted"
    before = json.loads((out / "runs" / "seed=0" / "summary.json").read_text())
    assert before["status"] == "interrupted" and before["epochs_completed"] < 150

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((out / "runs" / "seed=0" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 150
    assert "--resume" in summary["resumed_with"][0]


def test_dry_run_again_lists_what_is_left_and_clears_failed_runs(cli, write_config, tmp_path):
    config, out = sweep_file(write_config, sweep={"seeds": 3}), tmp_path / "sw"
    assert len(cli("sweep", config, "--sweep-dir", out, "--dry-run").out.splitlines()) == 3
    for seed, status in ((0, "completed"), (1, "failed")):  # as the scheduler's runs left them
        run = out / "runs" / f"seed={seed}"
        run.mkdir(parents=True)
        (run / "summary.json").write_text(json.dumps({"status": status, "error": "boom"}))
    result = cli("sweep", config, "--sweep-dir", out, "--dry-run")
    assert [shlex.split(line)[-2] for line in result.out.splitlines()] == [
        str(out / "runs" / "seed=1"), str(out / "runs" / "seed=2")
    ]  # fmt: skip
    assert not (out / "runs" / "seed=1").exists() and (out / "failed" / "seed=1.1").is_dir()
    doc = json.loads((out / "sweep.json").read_text())
    assert [t["status"] for t in doc["trials"]] == ["completed", "failed", "pending"]
