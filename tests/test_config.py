"""The config schema: defaults, overrides, and every shipped config validates."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlcore.config import Config, apply_overrides, dump, load_config, validate
from mlcore.errors import MlcoreError

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_validates(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    # the resolved config round-trips: dump -> validate gives the same object
    import yaml

    assert validate(yaml.safe_load(dump(cfg))) == cfg


def test_defaults_follow_design():
    cfg = validate({})
    assert cfg.data.split.train == 0.7 and cfg.data.batch_size == 64
    assert cfg.optimizer.name == "adam" and cfg.optimizer.lr == 0.001
    assert cfg.trainer.early_stopping.monitor == "val/loss" and cfg.trainer.precision == "fp32"
    assert cfg.eval.split == "test" and cfg.scheduler.name == "none"


def test_overrides_parse_yaml_values():
    tree = apply_overrides({}, ["model.hidden=[64,64]", "optimizer.lr=1e-2", "run.name=x y"])
    cfg = validate(tree)
    assert cfg.model.hidden == (64, 64)
    assert cfg.optimizer.lr == 0.01
    assert cfg.run.name == "x y"


def test_config_is_frozen():
    cfg = validate({})
    with pytest.raises(AttributeError):
        cfg.optimizer.lr = 1.0  # type: ignore[misc]


def test_int_accepted_where_float_expected_but_not_bool():
    assert validate({"optimizer": {"lr": 1}}).optimizer.lr == 1.0
    with pytest.raises(MlcoreError, match="optimizer.lr"):
        validate({"optimizer": {"lr": True}})


def test_nesterov_needs_sgd_momentum():
    with pytest.raises(MlcoreError, match="optimizer.nesterov"):
        validate({"optimizer": {"name": "sgd", "nesterov": True}})
    cfg = validate({"optimizer": {"name": "sgd", "nesterov": True, "momentum": 0.9}})
    assert cfg.optimizer.nesterov


def test_config_module_does_not_import_torch(tmp_path):
    import subprocess

    code = (
        "import sys; from mlcore.config import load_config; "
        f"load_config({str(CONFIGS[0])!r}); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registries_match_the_name_lists():
    from mlcore.config import DATASET_NAMES, MODEL_NAMES, OPTIMIZER_NAMES
    from mlcore.data import DATASETS
    from mlcore.models import MODELS
    from mlcore.optim import OPTIMIZERS

    assert set(MODELS) == set(MODEL_NAMES)
    assert set(DATASETS) == set(DATASET_NAMES)
    assert set(OPTIMIZERS) == set(OPTIMIZER_NAMES)
