"""data.eval_batch_size: validation and test batches larger than training ones change no
number beyond float summation order (eval() mode: a sample's output ignores its batch)."""

from __future__ import annotations

import pytest

from mlcore.config import validate
from mlcore.data import make_loader
from mlcore.training.build import build_parts, eval_batch_size

NET = {"name": "mlp", "hidden": [32, 32], "batchnorm": True, "dropout": 0.3}


def _reports(data: dict, small: int, split: str) -> tuple[tuple, tuple]:
    """(report, mean loss) in the default evaluation batches and in batches of `small`."""
    parts = build_parts(validate({"data": data, "model": NET}))
    loader = parts.loaders[split]
    assert loader.batch_size == max(data["batch_size"], 256)
    device = parts.placement.device  # where the loaders keep the data (a GPU if there is one)
    smaller = make_loader(getattr(parts.data, split), small, shuffle=False, seed=0, device=device)
    parts.model.eval()
    return (
        parts.task.evaluate(parts.model, loader, device),
        parts.task.evaluate(parts.model, smaller, device),
    )


@pytest.mark.parametrize("split", ["val", "test"])
def test_classification_report_is_exactly_equal(split):
    (large, large_loss), (small, small_loss) = _reports(
        {"name": "digits", "batch_size": 16}, 7, split
    )
    assert small["confusion_matrix"] == large["confusion_matrix"]
    assert small == large  # every figure is derived from that one integer matrix
    assert small_loss == pytest.approx(large_loss, rel=1e-6, abs=1e-6)


def test_regression_report_differs_only_in_summation_order():
    data = {"name": "diabetes", "batch_size": 16}
    (large, large_loss), (small, small_loss) = _reports(data, 5, "val")
    assert small.keys() == large.keys() and small["num_samples"] == large["num_samples"]
    for key in ("mse", "rmse", "mae", "r2"):
        assert small[key] == pytest.approx(large[key], rel=1e-6, abs=1e-6)
    assert small_loss == pytest.approx(large_loss, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize(
    ("batch", "eval_batch", "expected"), [(64, None, 256), (512, None, 512), (64, 32, 32)]
)
def test_default_is_the_larger_of_batch_size_and_256(batch, eval_batch, expected):
    cfg = validate({"data": {"batch_size": batch, "eval_batch_size": eval_batch}})
    assert eval_batch_size(cfg) == expected


def test_a_bad_eval_batch_size_is_one_line_and_exit_2(cli, tmp_path, write_config):
    config = write_config({"data": {"name": "digits"}})
    result = cli("config", config, "--set", "data.eval_batch_size=0")
    assert result.code == 2 and "data.eval_batch_size" in result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
