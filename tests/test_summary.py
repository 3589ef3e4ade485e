"""`mlcore summary`: counts checked against PyTorch itself, for every registered model."""

from __future__ import annotations

import json

import pytest
from conftest import REPO
from torch import nn

from mlcore.config import validate
from mlcore.inspection.summary import arithmetic, summarize
from mlcore.models import MODELS
from mlcore.training.build import build_parts

# one dataset per task a model serves; image-only models get the 8x8 digits
DATA = {
    "classification": {"name": "digits"},
    "regression": {"name": "line", "n_samples": 64, "w": [1.0, 2.0, 3.0]},
    "segmentation": {"name": "digit_seg", "n_samples": 40},
    "generation": {"name": "gaussian_ring", "n_samples": 200},
}
EXTRA = {"torchvision": {"arch": "resnet18"}, "gan": {"generator": {}, "discriminator": {}}}
CASES = [(model, task) for model, (_, tasks) in MODELS.items() for task in tasks]


@pytest.mark.parametrize(("model", "task"), CASES, ids=[f"{m}-{t}" for m, t in CASES])
def test_counts_match_pytorch_for_every_model(model, task):
    cfg = validate(
        {
            "data": DATA[task],
            "model": {"name": model, "channels": [8, 16], "hidden": [16], "batchnorm": True,
                      **EXTRA.get(model, {})},
            "trainer": {"device": "cpu"},
        }
    )  # fmt: skip
    summary = summarize(cfg)
    reference = build_parts(cfg).model  # what `train` builds, independently of summary
    total = sum(p.numel() for p in reference.parameters())
    assert summary.total_params == total
    assert sum(row.params for row in summary.layers) == total  # the rows add up
    assert summary.trainable_params == total and summary.non_trainable_params == 0
    assert summary.param_bytes_fp32 == 4 * total
    assert summary.note == ""  # the meta-device forward went through: every shape is known
    if model == "gan":  # the discriminator's last layer: one logit per pack of samples
        assert summary.layers[-1].output_shape[-1] == 1
    else:
        assert summary.layers[-1].output_shape[:2] == ["B", summary.num_outputs]


def test_conv_arithmetic_is_the_seed_note_rule_with_the_bias():
    cfg = validate({"model": {"name": "cnn", "channels": [32], "hidden": [], "batchnorm": False}})
    first = summarize(cfg).layers[0]
    assert (first.name, first.type, first.output_shape) == ("features.0.0", "Conv2d",
                                                            ["B", 32, 8, 8])  # fmt: skip
    assert first.arithmetic == "32 × (3 × 3 × 1) + 32 = 320" and first.params == 320


@pytest.mark.parametrize(
    ("layer", "text"),
    [
        (nn.Conv2d(8, 16, 3, groups=4), "16 × (3 × 3 × 2) + 16 = 304"),  # C = 8 / 4 groups
        (nn.Conv2d(3, 64, 7, bias=False), "64 × (7 × 7 × 3) = 9,408"),
        (nn.Conv1d(4, 6, 5), "6 × (5 × 4) + 6 = 126"),
        (nn.Linear(256, 128), "128 × 256 + 128 = 32,896"),
        (nn.BatchNorm2d(64), "2 × 64 = 128"),
        (nn.Embedding(10, 4), "weight 10 × 4 = 40"),  # any other layer: by name
        (nn.ReLU(), ""),
    ],
)
def test_arithmetic_adds_up(layer, text):
    assert arithmetic(layer) == text
    if text:
        assert text.endswith(f"= {sum(p.numel() for p in layer.parameters()):,}")


def test_summary_command_prints_the_table_and_json(cli):
    result = cli("summary", "configs/cnn.yaml")
    assert result.code == 0, result
    assert "64 × (3 × 3 × 32) = 18,432" in result.out and "(B, 64, 2, 2)" in result.out
    assert "53,226" in result.out
    data = json.loads(cli("summary", "configs/cnn.yaml", "--json").out)
    assert data["total_params"] == 53226 and data["layers"][0]["output_shape"] == ["B", 32, 8, 8]


def test_summary_errors_are_train_errors(cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: {name: moons}\nmodel: {name: cnn}\n")  # found only when built
    result = cli("summary", path)
    assert result.code == 2 and str(path) in result.err and "model.name" in result.err
    assert "Traceback" not in result.err


GAN_CONFIGS = sorted((REPO / "configs").glob("gan_*.yaml"))


@pytest.mark.parametrize("config", GAN_CONFIGS, ids=[p.stem for p in GAN_CONFIGS])
def test_a_gan_discriminator_rows_are_batched_as_its_step_calls_it(config, cli):
    """Probed with PROBE_BATCH samples, a pack-2 discriminator saw one row: `(1, 128)` where
    the generator said `(B, 128)`. Its rows are B/pack packs of B samples (issue 17)."""
    from mlcore.config import load_config

    cfg = load_config(config)
    summary = summarize(cfg)
    pack = summary.pack
    assert pack == cfg.model.pack
    rows = "B" if pack == 1 else f"B/{pack}"
    for row in summary.layers:
        if row.name.startswith(("generator.", "discriminator.")) and row.output_shape:
            expected = "B" if row.name.startswith("generator.") else rows
            assert row.output_shape[0] == expected, (row.name, row.output_shape)
    result = cli("summary", config)
    assert result.code == 0 and "(1, " not in result.out and f"({rows}, " in result.out
