"""The commands as a user types them: output modes, runs table, config printing."""

from __future__ import annotations

import subprocess
import sys

import yaml

TINY = {
    "run": {"name": "tiny"},
    "data": {"name": "moons", "n_samples": 200, "batch_size": 32},
    "model": {"name": "mlp", "hidden": [8]},
    "trainer": {"epochs": 3, "device": "cpu"},
}


def test_plain_output_is_one_line_per_epoch(cli, tmp_path, write_config):
    result = cli("train", write_config(TINY), "--run-dir", tmp_path / "run")
    assert result.code == 0, result
    epoch_lines = [line for line in result.out.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 3 and epoch_lines[0].startswith("epoch 1/3  train/loss")
    assert "\r" not in result.out  # no redrawn progress bar in a log
    assert "completed: 3 epochs" in result.out and "run directory:" in result.out
    assert "test split, best checkpoint:" in result.out  # the report --quiet leaves out
    log = (tmp_path / "run" / "train.log").read_text()
    assert log.count("epoch ") == 3


def test_quiet_prints_only_the_summary(cli, tmp_path, write_config):
    """The final line and the run directory (warnings aside); not the test report, which
    stays in summary.json for `mlcore eval` (it printed ~40 lines of tables, issue 17)."""
    result = cli("train", write_config(TINY), "--run-dir", tmp_path / "run", "--quiet")
    assert result.code == 0
    lines = [line for line in result.out.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 2, lines
    assert lines[0].startswith("completed: 3 epochs in ") and "best val/loss = " in lines[0]
    assert lines[1] == f"run directory: {tmp_path / 'run'}"
    assert "accuracy" in (tmp_path / "run" / "summary.json").read_text()


def test_runs_lists_every_run(cli, tmp_path, write_config):
    config = write_config(TINY)
    for _ in range(2):
        assert cli("train", config, "--runs-root", tmp_path / "runs", "--quiet").code == 0
    result = cli("runs", tmp_path / "runs")
    assert result.code == 0
    rows = [line for line in result.out.splitlines() if "tiny/" in line]
    assert len(rows) == 2 and all("completed" in r and "moons" in r for r in rows)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no runs" in cli("runs", empty).out


def test_config_prints_every_default(cli, write_config):
    result = cli("config", write_config(TINY), "--set", "optimizer.lr=3e-4")
    assert result.code == 0
    resolved = yaml.safe_load(result.out)
    assert resolved["optimizer"]["lr"] == 0.0003
    assert resolved["trainer"]["early_stopping"]["monitor"] == "val/loss"
    assert set(resolved) == {"run", "data", "model", "optimizer", "scheduler",
                             "regularization", "trainer", "eval"}  # fmt: skip


def test_python_cli_py_is_the_same_program(tmp_path):
    from conftest import REPO

    out = subprocess.run([sys.executable, "cli.py", "--help"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert "train" in out and "eval" in out and "runs" in out
    version = subprocess.run([sys.executable, "cli.py", "--version"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert version.startswith("mlcore ")


def test_keys_that_do_nothing_are_named(cli, tmp_path, write_config):
    tree = {**TINY, "data": {**TINY["data"], "w": [1.0]}, "optimizer": {"momentum": 0.9}}
    result = cli("train", write_config(tree), "--run-dir", tmp_path / "run")
    assert result.code == 0
    assert "data.w has no effect on moons" in result.out
    assert "optimizer.momentum has no effect on adam" in result.out
    assert "data.w has no effect" in (tmp_path / "run" / "train.log").read_text()
