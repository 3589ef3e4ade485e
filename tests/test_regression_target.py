"""Regression targets standardized with the training split's statistics: the model learns
(y - mean) / std, every report is in the target's units, each report holds the baseline of
predicting the training mean, and a run below that baseline says so."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from sklearn.metrics import mean_squared_error, r2_score

from mlcore.evaluation.accumulators import RegressionAccumulator
from mlcore.evaluation.metrics import regression_report
from mlcore.evaluation.tasks import StandardizedMSE


@pytest.mark.parametrize("outputs", [1, 3])
def test_the_baseline_is_scikit_learns_for_a_constant_prediction(outputs):
    g = torch.Generator().manual_seed(0)
    y = torch.randn(200, outputs, generator=g, dtype=torch.float64) * 50 + 1000
    m = (torch.randn(outputs, generator=g, dtype=torch.float64) * 10 + 1000).tolist()
    acc = RegressionAccumulator(baseline_mean=m)
    acc.update(y + 1.0, y)
    base = acc.compute()["baseline"]
    constant = np.tile(np.asarray(m), (len(y), 1))
    assert base["mse"] == pytest.approx(mean_squared_error(y.numpy(), constant), rel=1e-9)
    assert base["r2"] == pytest.approx(r2_score(y.numpy(), constant), rel=1e-9)


def test_the_baseline_of_the_split_own_mean_has_r2_zero():
    y = torch.arange(10, dtype=torch.float64)[:, None]
    report = regression_report(RegressionAccumulator(baseline_mean=[4.5]).sums() | {
        "n": 10, "sse": torch.zeros(1), "sae": torch.zeros(1),
        "sum_y": y.sum(0), "sum_y2": (y**2).sum(0),
    }, baseline_mean=[4.5])  # fmt: skip
    assert report["baseline"]["r2"] == pytest.approx(0.0, abs=1e-12)
    assert report["baseline"]["mse"] == pytest.approx(float(y.var(correction=0)))


def test_standardized_predictions_are_reported_in_the_targets_units():
    stats = {"mean": [3000.0, -5.0], "std": [800.0, 2.0]}
    g = torch.Generator().manual_seed(1)
    y = torch.randn(64, 2, generator=g) * torch.tensor([800.0, 2.0]) + torch.tensor([3000.0, -5])
    raw = y + torch.randn(64, 2, generator=g) * 30  # predictions in the target's units
    standardized = (raw - torch.tensor(stats["mean"])) / torch.tensor(stats["std"])
    plain, scaled = RegressionAccumulator(), RegressionAccumulator(target_stats=stats)
    plain.update(raw, y)
    scaled.update(standardized, y)
    for key, value in plain.compute().items():
        assert scaled.compute()[key] == pytest.approx(value, rel=1e-5), key


def test_the_loss_is_the_mse_of_the_standardized_target():
    stats = {"mean": [3000.0], "std": [800.0]}
    y = torch.tensor([[2000.0], [3000.0], [4600.0]])
    out = torch.tensor([[-1.0], [0.5], [2.0]])  # standardized predictions
    raw = out * 800 + 3000
    expected = torch.nn.functional.mse_loss(raw, y) / 800**2
    assert float(StandardizedMSE(stats)(out, y)) == pytest.approx(float(expected), rel=1e-6)


def _thousands_csv(path, n=400, seed=0):
    """y in the thousands, linear in two features plus noise of std 50."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = 3000 + 800 * a - 500 * b + rng.normal(scale=50, size=n)
    rows = ["a,b,y", *(f"{x:.5f},{z:.5f},{t:.3f}" for x, z, t in zip(a, b, y))]
    path.write_text("\n".join(rows) + "\n")
    return path


def _config(tmp_path, write_config, **data):
    csv = _thousands_csv(tmp_path / "thousands.csv")
    tree = {
        "run": {"name": "thousands"},
        "data": {"name": "csv", "path": str(csv), "target": "y", **data},
        "trainer": {"epochs": 30, "device": "cpu", "log_grad_norms": False},
    }
    return write_config(tree)


def test_a_target_in_the_thousands_trains_and_reports_in_its_units(cli, tmp_path, write_config):
    config = _config(tmp_path, write_config)
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.code == 0, result.err
    assert "target standardized with train's mean [3" in result.out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    test = summary["test"]
    assert test["r2"] > 0.99  # noise std 50 on a spread of ~950
    assert 45 < test["rmse"] < 120  # above the noise std 50, in the units (standardized: ~0.1)
    assert test["baseline"]["r2"] < 0.05 and test["baseline"]["mse"] > 5e5
    assert summary["data"]["target_normalization"]["fitted_on"] == "train"
    state = torch.load(tmp_path / "run" / "checkpoints" / "best.pt", weights_only=True)
    assert state["data"]["target_stats"]["mean"][0] == pytest.approx(3000, abs=100)
    again = cli("eval", tmp_path / "run", "--json")
    assert again.code == 0
    report = json.loads(again.out)
    for key in ("mse", "r2", "mae"):
        assert report[key] == pytest.approx(test[key], rel=1e-9)


def test_a_run_below_the_baseline_ends_with_a_warning(cli, tmp_path, write_config):
    """The failure the standardization removes: raw thousands, Adam's default step, one
    epoch of a linear model: worse than predicting the mean, and now it says so."""
    config = _config(tmp_path, write_config, standardize_target=False)
    result = cli("train", config, "--run-dir", tmp_path / "raw", "--set", "trainer.epochs=1")
    assert result.code == 0
    warned = [
        line for line in (result.out + result.err).splitlines() if "below the baseline" in line
    ]
    assert len(warned) == 1, result.out + result.err
    assert "predicting the training mean" in warned[0]
    assert "below the baseline" in (tmp_path / "raw" / "train.log").read_text()
    assert "target standardized" not in result.out


def test_a_checkpoint_from_before_standardization_evaluates_as_it_trained(
    cli, tmp_path, write_config
):
    config = _config(tmp_path, write_config, standardize_target=False)
    assert cli("train", config, "--run-dir", tmp_path / "run").code == 0
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "run", old)
    tree = yaml.safe_load((old / "config.yaml").read_text())
    del tree["data"]["standardize_target"]  # as such a run's config.yaml was written
    (old / "config.yaml").write_text(yaml.safe_dump(tree))
    for name in ("best.pt", "last.pt"):
        path = old / "checkpoints" / name
        state = torch.load(path, weights_only=True)
        del state["data"]["target_stats"]
        state["config"]["data"].pop("standardize_target")
        torch.save(state, path)
    report = json.loads(cli("eval", old, "--json").out)
    trained = json.loads((tmp_path / "run" / "summary.json").read_text())["test"]
    assert report["mse"] == pytest.approx(trained["mse"], rel=1e-9)


def _least_squares_test_r2(config) -> float:
    """Closed-form least squares (with a bias column) on the run's own encoded, normalized
    training split, scored on its test split: the reference the trained model must reach."""
    from mlcore.config import load_config
    from mlcore.training.build import build_parts

    data = build_parts(load_config(config)).data

    def xy(split):
        x = split.x.double()
        return torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], 1), split.y.double()

    x, y = xy(data.train)
    w = torch.linalg.lstsq(x, y.reshape(len(y), -1)).solution
    xt, yt = xy(data.test)
    return float(r2_score(yt.numpy(), (xt @ w).reshape(yt.shape).numpy()))


def test_penguins_body_mass_reaches_least_squares(cli, tmp_path, write_config):
    """The raw Palmer penguins file (text columns, NA cells), body mass in grams (mean
    ~4,200): within 0.05 of least squares' test R² on the same encoded features."""
    import importlib.resources

    source = importlib.resources.files("palmerpenguins") / "data" / "penguins.csv"
    with importlib.resources.as_file(source) as path:
        shutil.copy(path, tmp_path / "penguins.csv")
    config = write_config(
        {
            "run": {"name": "penguins-mass"},
            "data": {
                "name": "csv",
                "path": str(tmp_path / "penguins.csv"),
                "target": "body_mass_g",
            },
            "trainer": {"epochs": 30, "device": "cpu"},
        }
    )
    result = cli("train", config, "--run-dir", tmp_path / "run", "--quiet")
    assert result.code == 0, result.err
    test = json.loads((tmp_path / "run" / "summary.json").read_text())["test"]
    exact = _least_squares_test_r2(config)
    assert exact > 0.8
    assert test["r2"] > exact - 0.05, (test["r2"], exact)
    assert "below the baseline" not in result.out + result.err
