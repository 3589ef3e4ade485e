"""Linear regression trained by gradient descent reaches the closed-form least squares."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mlcore import api
from mlcore.config import load_config
from mlcore.training.build import build_parts

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def closed_form_test_mse(config: Path) -> float:
    """Solve min ||[X 1] theta - y||^2 on the same standardized training split with
    torch.linalg.lstsq (float64), then score the test split."""
    parts = build_parts(load_config(config, ["trainer.device=cpu"]))
    train, test = parts.data.train, parts.data.test

    def design(x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1).double()
        return torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], dim=1)

    theta = torch.linalg.lstsq(design(train.x), train.y.double()).solution
    pred = design(test.x) @ theta
    return float(((pred - test.y.double()) ** 2).mean())


@pytest.mark.parametrize("config", ["linear.yaml", "linear_diabetes.yaml"])
def test_trained_linear_model_matches_closed_form(tmp_path, config):
    path = CONFIGS / config
    _, summary = api.train(path, ["trainer.device=cpu"], run_dir=tmp_path / "run")
    assert summary["status"] == "completed"
    trained = summary["test"]["mse"]
    exact = closed_form_test_mse(path)
    assert trained == pytest.approx(exact, rel=0.01), (trained, exact)


def test_line_fit_recovers_true_w_and_b(tmp_path):
    _, summary = api.train(
        CONFIGS / "linear.yaml", ["trainer.device=cpu"], run_dir=tmp_path / "run"
    )
    fit = summary["fit"]
    assert fit["true_w"] == [2.0, -3.0] and fit["true_b"] == 0.5
    assert fit["learned_w"] == pytest.approx(fit["true_w"], abs=0.05)
    assert fit["learned_b"] == pytest.approx(fit["true_b"], abs=0.05)


def test_bias_false_drops_b():
    from mlcore.config import ModelConfig
    from mlcore.models import build_model

    model = build_model(ModelConfig(name="linear", bias=False), (3,), 1, "regression")
    assert model.fc.bias is None
    assert float(model(torch.zeros(1, 3)).detach()) == 0.0  # the hypothesis Wx passes the origin
