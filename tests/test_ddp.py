"""DistributedDataParallel on CPU: two gloo processes, under torchrun or started by mlcore
itself; one run directory; a failing rank ends the job; every rank stops after the same step.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

from mlcore import api

pytestmark = pytest.mark.slow

# Test-only fault injection, loaded by every rank at start-up through sitecustomize:
# MLCORE_FAULT=raise:RANK:STEP raises in that rank's STEP-th training step, nan:RANK:STEP
# makes that step's inputs NaN (in the supervised step and the GAN's alike). Each rank
# writes the step at which its run stopped on a non-finite loss into MLCORE_FAULT_LOG/rankN.
SITECUSTOMIZE = textwrap.dedent("""
    import os
    spec, log = os.environ.get("MLCORE_FAULT"), os.environ.get("MLCORE_FAULT_LOG")
    if spec and "RANK" in os.environ:
        import mlcore.training.gan_step as gan_module
        import mlcore.training.step as step_module
        kind, fault_rank, at = spec.split(":")
        rank = os.environ["RANK"]

        def plant(cls):
            original, count = cls.__call__, [0]

            def faulty(self, x, y):
                count[0] += 1
                if rank == fault_rank and count[0] == int(at):
                    if kind == "raise":
                        raise RuntimeError(f"planted failure at step {at}")
                    x = x * float("nan")
                try:
                    return original(self, x, y)
                except step_module.NonFiniteLoss:
                    with open(os.path.join(log, f"rank{rank}"), "w") as f:
                        f.write(str(count[0]))
                    raise

            cls.__call__ = faulty

        plant(step_module.SupervisedStep)
        plant(gan_module.GanStep)
""")

# A batchnorm-free, pack-free MLP GAN on the ring: DDP's parity with one process holds for
# it as for a classifier (hinge/bce losses are batch means; no batch statistics).
GAN = {
    "data": {"name": "gaussian_ring", "n_samples": 600},
    "model": {
        "name": "gan", "latent_dim": 4, "loss": "bce", "ema": 0.9,
        "generator": {"hidden": [16], "activation": "relu", "batchnorm": False},
        "discriminator": {"hidden": [16], "activation": "leaky_relu", "batchnorm": False},
    },
    "optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]},
    "eval": {"num_samples": 200},
}  # fmt: skip


def _config(tmp_path: Path, batch_size: int = 16, kind: str = "mlp", **trainer) -> Path:
    """A tiny self-launched DDP config: a moons MLP (kind mlp) or the ring GAN (kind gan)."""
    config = tmp_path / f"ddp-{kind}.yaml"
    body = {
        "run": {"name": "ddp", "seed": 1},
        "data": {"name": "moons", "n_samples": 300},
        "model": {"name": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.1},
        **(GAN if kind == "gan" else {}),
    }
    body["data"] = {**body["data"], "batch_size": batch_size}
    body["trainer"] = {"epochs": 2, "device": "cpu", "strategy": "ddp", "devices": 2, **trainer}
    config.write_text(yaml.safe_dump(body))
    return config


def _env(tmp_path: Path, fault: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if fault:
        inject = tmp_path / "inject"
        inject.mkdir()
        (inject / "sitecustomize.py").write_text(SITECUSTOMIZE)
        (tmp_path / "faults").mkdir()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(inject), env.get("PYTHONPATH")]))
        env.update(MLCORE_FAULT=fault, MLCORE_FAULT_LOG=str(tmp_path / "faults"))
    return env


def _mlcore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlcore", *map(str, args)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def _train_with_fault(
    tmp_path: Path, fault: str, kind: str = "mlp"
) -> tuple[subprocess.CompletedProcess, Path]:
    """A 50-epoch self-launched DDP run (7 steps an epoch) with `fault` planted."""
    runs = tmp_path / "runs"
    config = _config(tmp_path, batch_size=15 if kind == "gan" else 16, kind=kind, epochs=50)
    result = _mlcore("train", config, "--runs-root", runs, "--quiet", env=_env(tmp_path, fault))
    return result, runs


def _one_run(runs: Path) -> Path:
    run_dirs = [p.parent for p in runs.rglob("summary.json")]
    assert len(run_dirs) == 1  # only rank 0 writes
    return run_dirs[0]


def _check_completed_run(result: subprocess.CompletedProcess, runs: Path) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    run = _one_run(runs)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["world_size"] == 2
    assert summary["test"]["num_samples"] == summary["data"]["sizes"]["test"]  # none twice
    # metrics summed across ranks equal a single-process evaluation of the same checkpoint
    report, _ = api.evaluate_run(run, "test", "best")
    assert report["confusion_matrix"] == summary["test"]["confusion_matrix"]
    assert result.stdout.count("run directory:") == 1  # only rank 0 speaks


def test_ddp_under_torchrun_writes_one_run(tmp_path):
    torchrun = shutil.which("torchrun", path=str(sys.executable).rsplit("/", 1)[0])
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    runs = tmp_path / "runs"
    # A rank that aborted at exit (a gloo worker releasing tensors during finalization)
    # failed here up to 4 runs in 10; mlcore.cli.exits.exit_rank is the fix.
    result = subprocess.run(
        [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "mlcore", "train",
         str(_config(tmp_path, devices="auto")), "--runs-root", str(runs), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    _check_completed_run(result, runs)


def test_mlcore_starts_the_ddp_processes_itself(tmp_path):
    runs = tmp_path / "runs"
    result = _mlcore("train", _config(tmp_path), "--runs-root", runs, "--quiet")
    _check_completed_run(result, runs)
    assert "ddp: starting 2 processes on this machine (gloo)" in result.stderr
    summary = json.loads((_one_run(runs) / "summary.json").read_text())
    assert summary["command"] == f"mlcore train {_config(tmp_path)} --runs-root {runs} --quiet"


@pytest.mark.parametrize("kind", ["mlp", "gan"])
def test_two_ranks_with_batch_b_learn_what_one_process_learns_with_2b(tmp_path, kind):
    """DDP averages the ranks' gradients; each rank takes every second sample of the same
    order, so two ranks with batch B see, step for step, the batch of 2B of one process.
    A GAN's ranks draw the two halves of the latents one process with 2B draws: both
    networks and the weight average end equal too."""
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    # 210 (moons) or 420 (ring) training samples: 7 or 14 steps of 2 x 15
    config = _config(tmp_path, batch_size=15, kind=kind)
    result = _mlcore("train", config, "--run-dir", ddp, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    result = _mlcore(
        "train", config, "--run-dir", single, "--quiet", "--set", "trainer.strategy=single",
        "--set", "trainer.devices=1", "--set", "data.batch_size=30",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    a = torch.load(ddp / "checkpoints" / "last.pt", weights_only=True)["model"]
    b = torch.load(single / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()  # a DDP checkpoint is a plain model's, and the reverse
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-5)


def test_ranks_stop_early_together_on_a_train_monitor(tmp_path):
    """A rank's train/loss covers its own shard: if each rank judged early stopping by its
    own, one would stop while the other waited for it in the next all-reduce (a hang until
    the process group's timeout). Every rank decides on rank 0's value, which is logged."""
    runs = tmp_path / "runs"
    config = _config(tmp_path, batch_size=8, epochs=60)
    monitor = ["--set", "trainer.early_stopping.monitor=train/loss",
               "--set", "trainer.early_stopping.patience=1"]  # fmt: skip
    try:  # 90 s: the run itself takes a few; a hang would take the 5-minute timeout
        result = subprocess.run(
            [sys.executable, "-m", "mlcore", "train", config, "--runs-root", runs, *monitor],
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("the ranks disagreed on early stopping and hung")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((_one_run(runs) / "summary.json").read_text())
    assert summary["status"] == "early_stopped" and summary["epochs_completed"] < 60


def test_a_rank_that_raises_ends_the_job(tmp_path):
    started = time.monotonic()
    result, runs = _train_with_fault(tmp_path, "raise:1:10")  # step 10: in epoch 2
    assert result.returncode == 1
    assert time.monotonic() - started < 60
    assert result.stderr.count("planted failure at step 10") == 1  # the rank's traceback
    assert "ddp: rank 1 failed (above); the job stopped" in result.stderr
    run = _one_run(runs)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert summary["error"] == "rank 1: RuntimeError: planted failure at step 10"
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 2  # saved at the end of epoch 1


@pytest.mark.parametrize(("kind", "at"), [("mlp", 10), ("gan", 17)])  # in epoch 2 of each
def test_a_nan_on_one_rank_stops_every_rank_after_that_step(tmp_path, kind, at):
    result, runs = _train_with_fault(tmp_path, f"nan:1:{at}", kind)
    assert result.returncode == 1
    stopped = {p.name: p.read_text() for p in (tmp_path / "faults").iterdir()}
    # rank 0 saw a finite loss and still stopped at the same step: no rank left waiting
    assert stopped == {"rank0": str(at), "rank1": str(at)}
    run = _one_run(runs)
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 2  # saved at the end of epoch 1
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_ctrl_c_stops_every_rank_and_the_resumed_job_ends_as_if_never_stopped(tmp_path):
    """Ctrl-C reaches the launcher (the terminal signals its process group; the ranks run
    in sessions of their own): every rank stops after the same step, rank 0 saves one
    resumable last.pt, exit 130; `--resume` starts the ranks again and ends bit-identical
    to a run that was never stopped. On the GAN, whose two networks' steps, optimizers and
    EMA all resume; its stop flag rides as the supervised step's does (step.RankSignals)."""
    config = _config(tmp_path, batch_size=15, kind="gan", epochs=12)
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    result = _mlcore("train", config, "--run-dir", whole, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    job = subprocess.Popen(
        [sys.executable, "-m", "mlcore", "train", str(config), "--run-dir", str(stopped),
         "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    metrics, deadline = stopped / "metrics.csv", time.monotonic() + 120
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 3):
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()[1]
        time.sleep(0.02)  # until two epochs are done
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 130, err[-3000:]
    assert json.loads((stopped / "summary.json").read_text())["status"] == "interrupted"
    assert torch.load(stopped / "checkpoints" / "last.pt", weights_only=True)["epoch"] < 12
    result = _mlcore("train", "--resume", stopped, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    a = torch.load(whole / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(stopped / "checkpoints" / "last.pt", weights_only=True)
    assert a["step"] == b["step"]
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


def test_a_user_error_that_only_the_ranks_can_see_is_said_once(tmp_path):
    """A mistake found once the data is loaded (a GAN monitor it does not log): rank 0's one
    line, exit 2, no run directory, and no launcher line after it."""
    runs = tmp_path / "runs"
    config = _config(tmp_path, kind="gan")
    result = _mlcore("train", config, "--runs-root", runs, "--set",
                     "trainer.checkpoint.monitor=val/loss")  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    # once: rank 0's line (or, had rank 0 been stopped before it spoke, the launcher's)
    assert result.stderr.count("trainer.checkpoint.monitor: 'val/loss' is not logged") == 1
    assert "Traceback" not in result.stderr
    assert not runs.exists() or not any(runs.rglob("summary.json"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="devices: auto means every GPU here")
def test_ddp_on_cpu_needs_a_number_of_processes(tmp_path):
    result = _mlcore("train", _config(tmp_path, devices="auto"), "--runs-root", tmp_path)
    assert result.returncode == 2
    assert "trainer.devices: auto starts one process per visible GPU" in result.stderr
    assert "Traceback" not in result.stderr
