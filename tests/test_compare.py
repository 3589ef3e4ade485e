"""`mlcore compare` on hand-written run directories: exact means, sample stds, epochs to a
target, the best variant's verdict, plain runs, and the one-line refusals."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from mlcore.sweep.compare import lower_is_better

COLUMNS = ["epoch", "step", "train/loss", "val/loss", "val/accuracy", "lr", "seconds",
           "grad/hidden.0", "grad/head"]  # fmt: skip


def make_run(path: Path, acc: list[float], train: float, val: float, test: float, *,
             optimizer: str = "adam", seed: int = 0, task: str = "classification",
             status: str = "completed") -> Path:  # fmt: skip
    """A run directory as mlcore train leaves it, with the numbers given."""
    path.mkdir(parents=True)
    config = {"run": {"name": f"r{seed}", "seed": seed}, "data": {"name": "moons"},
              "optimizer": {"name": optimizer, "lr": 0.01}}  # fmt: skip
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    with (path / "metrics.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for i, a in enumerate(acc):
            last = i == len(acc) - 1
            losses = (
                {"train/loss": train, "val/loss": val}
                if last
                else {"train/loss": 1.0, "val/loss": 1.0}
            )
            writer.writerow({"epoch": i + 1, "step": 5 * (i + 1), "val/accuracy": a, "lr": 0.01,
                             "seconds": 0.1, "grad/hidden.0": 0.1 / (i + 1), "grad/head": 0.5,
                             **losses})  # fmt: skip
    summary = {"status": status, "data": {"task": task}, "duration_s": 2.0 + seed,
               "best": {"epoch": 1, "monitor": "val/accuracy", "value": max(acc)},
               "test": {"task": task, "accuracy": test}}  # fmt: skip
    (path / "summary.json").write_text(json.dumps(summary))
    return path


# variant a: best val/accuracy 0.9, 0.95, 0.85 -> mean 0.9, std 0.05; reaches 0.85 at 3, 3, 2
A = [([0.5, 0.8, 0.9], 0.3, 0.5, 0.8), ([0.6, 0.7, 0.95], 0.2, 0.4, 0.9),
     ([0.4, 0.85, 0.8], 0.4, 0.6, 1.0)]  # fmt: skip
# variant b: best 0.7, 0.8, 0.6 -> mean 0.7, std 0.1; never reaches 0.85
B = [([0.5, 0.6, 0.7], 0.5, 0.5, 0.7), ([0.5, 0.8, 0.7], 0.5, 0.7, 0.7),
     ([0.3, 0.4, 0.6], 0.5, 0.6, 0.7)]  # fmt: skip


@pytest.fixture
def sweep_dir(tmp_path) -> Path:
    root = tmp_path / "sw"
    trials = []
    for variant, runs in (("adam", A), ("sgd", B)):
        for seed, (acc, train, val, test) in enumerate(runs):
            trial = f"{variant},seed={seed}"
            make_run(root / "runs" / trial, acc, train, val, test, optimizer=variant, seed=seed)
            trials.append({"id": trial, "variant": variant, "seed": seed,
                           "run_dir": f"runs/{trial}", "status": "completed"})  # fmt: skip
    make_run(root / "runs" / "sgd,seed=3", [0.99], 0.1, 0.1, 0.99, seed=3, status="running")
    trials.append({"id": "sgd,seed=3", "variant": "sgd", "seed": 3, "run_dir": "runs/sgd,seed=3",
                   "status": "running"})  # fmt: skip
    trials.append({"id": "sgd,seed=4", "variant": "sgd", "seed": 4, "run_dir": "runs/sgd,seed=4",
                   "status": "pending"})  # fmt: skip
    doc = {"metric": "val/accuracy", "target": "val/accuracy=0.85", "trials": trials}
    (root / "sweep.json").write_text(json.dumps(doc))
    return root


def test_aggregates_over_seeds_exactly(cli, sweep_dir):
    result = cli("compare", sweep_dir, "--json")
    assert result.code == 0, result
    table = json.loads(result.out)
    a, b = table["variants"]
    assert (a["variant"], a["n"], b["n"]) == ("adam", 3, 3)
    assert a["best_metric"] == {"mean": pytest.approx(0.9), "std": pytest.approx(0.05), "n": 3}
    assert a["best_monitor"]["mean"] == pytest.approx(0.9)
    assert a["test"]["mean"] == pytest.approx(0.9) and a["test"]["std"] == pytest.approx(0.1)
    assert a["train_loss"]["mean"] == pytest.approx(0.3) and a["val_loss"]["mean"] == 0.5
    assert a["gap"]["mean"] == pytest.approx(-0.2)
    assert a["gap"]["std"] == pytest.approx(0, abs=1e-12)
    assert a["seconds"] == {"mean": 3.0, "std": 1.0, "n": 3}
    assert a["epochs_to_target"] == {"reached": 3, "n": 3, "mean": pytest.approx(8 / 3),
                                     "std": pytest.approx(0.57735, abs=1e-5)}  # fmt: skip
    assert b["best_metric"]["mean"] == pytest.approx(0.7)
    assert b["best_metric"]["std"] == pytest.approx(0.1)
    assert b["epochs_to_target"]["reached"] == 0
    assert b["not_averaged"] == {"running": 1, "pending": 1}  # shown, never averaged
    best = table["best"]
    assert best["variant"] == "adam" and best["runner_up"] == "sgd"
    assert best["lead"] == pytest.approx(0.2) and best["spread"] == pytest.approx(0.1)
    assert best["beyond_noise"] is True
    assert json.loads((sweep_dir / "compare.json").read_text()) == table
    assert (sweep_dir / "plots" / "compare_val_accuracy.png").stat().st_size > 10_000


def test_table_marks_the_best_and_counts_the_target(cli, sweep_dir):
    result = cli("compare", sweep_dir)
    assert result.code == 0, result
    assert "* adam" in result.out
    assert "3/3 reached, mean 2.67" in result.out and "0/3 reached" in result.out
    assert "1 running, 1 pending" in result.out
    assert "exceeds the seed spread" in result.out
    assert "compare_val_accuracy.png" in result.out


def test_one_seed_shows_no_std(cli, tmp_path):
    make_run(tmp_path / "x", [0.5, 0.9], 0.3, 0.4, 0.8, optimizer="adam")
    make_run(tmp_path / "y", [0.5, 0.6], 0.3, 0.4, 0.8, optimizer="sgd")
    result = cli("compare", tmp_path / "x", tmp_path / "y", "--out", tmp_path / "out")
    assert result.code == 0, result
    assert "2 variants, 1 seed each: no spread" in result.out
    assert " 0.9 " in result.out and "±" not in result.out.replace("mean ±", "")
    assert "(1 seed: the seed spread is unknown)" in result.out


def test_copies_of_one_seed_are_no_spread_over_seeds(cli, tmp_path):
    """Three copies of one run printed `1 variants, mean ± std over seeds` and `0.9 ± 0`: a
    std of repeats of one seed is no seed spread, nor evidence for a lead (issue 17)."""
    runs = [make_run(tmp_path / f"copy{i}", [0.5, 0.9], 0.3, 0.4, 0.8) for i in range(3)]
    result = cli("compare", *runs, "--out", tmp_path / "out")
    assert result.code == 0, result
    assert "1 variant, 1 seed: no spread; losses at the last epoch" in result.out
    assert "1 variants" not in result.out and "± 0" not in result.out
    assert "3 (1 seed)" in result.out
    row = json.loads((tmp_path / "out" / "compare.json").read_text())["variants"][0]
    assert row["n"] == 3 and row["seeds"] == [0, 0, 0] and row["best_metric"]["std"] is None
    # beside a variant of three seeds, the one-seed variant's lead is not "beyond noise"
    other = [make_run(tmp_path / f"sgd{s}", [0.5, 0.7 + s / 100], 0.3, 0.4, 0.8,
                      optimizer="sgd", seed=s) for s in range(3)]  # fmt: skip
    result = cli("compare", *runs, *other, "--out", tmp_path / "out")
    assert "2 variants, mean ± std over seeds (a variant of 1 seed: its mean alone)" in result.out
    assert "the seed spread is unknown" in result.out and "exceeds" not in result.out


def test_plain_runs_are_grouped_by_the_keys_that_differ(cli, tmp_path):
    runs = []
    for seed, (acc, train, val, test) in enumerate(A):  # run.name differs too: ignored
        runs.append(make_run(tmp_path / f"a{seed}", acc, train, val, test, seed=seed))
    for seed, (acc, train, val, test) in enumerate(B):
        runs.append(make_run(tmp_path / f"b{seed}", acc, train, val, test, optimizer="sgd",
                             seed=seed))  # fmt: skip
    out = tmp_path / "out"
    result = cli("compare", *runs, "--json", "--out", out, "--target", "val/accuracy=0.85")
    assert result.code == 0, result
    table = json.loads(result.out)
    names = [v["variant"] for v in table["variants"]]
    assert names == ["optimizer.name=adam", "optimizer.name=sgd"]
    assert table["variants"][0]["best_metric"]["std"] == pytest.approx(0.05)
    assert table["variants"][0]["seeds"] == [0, 1, 2]
    assert (out / "compare.json").exists() and (out / "plots" / "compare_val_accuracy.png").exists()


def test_mixed_tasks_and_missing_metrics_are_refused_in_one_line(cli, tmp_path):
    x = make_run(tmp_path / "x", [0.5], 0.3, 0.4, 0.8)
    y = make_run(tmp_path / "y", [0.5], 0.3, 0.4, 0.8, task="regression", optimizer="sgd")
    result = cli("compare", x, y, "--out", tmp_path)
    assert result.code == 2 and "mix tasks" in result.err
    assert len(result.err.strip().splitlines()) == 1
    z = make_run(tmp_path / "z", [0.5], 0.3, 0.4, 0.8, optimizer="sgd")
    result = cli("compare", x, z, "--metric", "val/f1", "--out", tmp_path)
    assert result.code == 2 and "--metric val/f1: not in metrics.csv" in result.err
    result = cli("compare", x, z, "--target", "val/accuracy", "--out", tmp_path)
    assert result.code == 2 and "expected KEY=NUMBER" in result.err
    assert cli("compare", tmp_path / "nope").code == 2


def test_losses_count_down_to_their_target(cli, tmp_path):
    assert lower_is_better("val/loss") and lower_is_better("val/rmse")
    assert not lower_is_better("val/accuracy") and not lower_is_better("val/miou")
    x = make_run(tmp_path / "x", [0.5, 0.6], 0.3, 0.4, 0.8)  # val/loss 1.0 then 0.4
    result = cli("compare", x, "--metric", "val/loss", "--target", "val/loss=0.5", "--json",
                 "--out", tmp_path)  # fmt: skip
    row = json.loads(result.out)["variants"][0]
    assert row["best_metric"]["mean"] == 0.4 and row["epochs_to_target"]["mean"] == 2


def test_compare_imports_no_torch(tmp_path):
    make_run(tmp_path / "x", [0.5, 0.9], 0.3, 0.4, 0.8)
    code = (
        "import sys; from pathlib import Path; from mlcore.sweep.report import compare; "
        f"compare([Path({str(tmp_path / 'x')!r})], None, None, Path({str(tmp_path)!r})); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO)}, check=True)  # fmt: skip
    assert out.stdout.strip() == "False"


def test_compare_figure_panels_follow_what_the_runs_logged():
    from mlcore.plots.compare import _mean_band, _panels

    mlp = [{"epoch": "1", "train/loss": "0.5", "val/accuracy": "0.8", "grad/linear 1": "2"}]
    cnn = [{"epoch": "1", "train/loss": "0.7", "val/accuracy": "0.6", "grad/conv 1": "4"}]
    gan = [{"epoch": "1", "train/d_loss": "1.3", "train/g_loss": "0.7", "val/score": "0.9"}]
    panels = _panels({"mlp": [mlp], "cnn": [cnn]}, "val/accuracy")
    assert panels == [("val/accuracy", "val/accuracy"), ("train/", "train/loss"),
                      ("grad/", "gradient norm, first layer")]  # fmt: skip
    # each run's own first layer, though the layers' names differ
    assert _mean_band([mlp, cnn], "grad/") == ([1], [3.0], [2**0.5])
    assert _panels({"gan": [gan]}, "val/score") == [("val/score", "val/score"),
                                                   ("train/", "train/d_loss")]  # fmt: skip
    assert _panels({"mlp": [mlp]}, "train/loss")[:2] == [
        ("train/loss", "train/loss"),
        ("grad/", "gradient norm, first layer"),
    ]  # the compared metric is the loss: one panel of it, not two
