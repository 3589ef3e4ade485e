"""Every registered model, on a dataset it serves: forward, backward, shapes, no NaN."""

from __future__ import annotations

import pytest
import torch

from mlcore.config import validate
from mlcore.models import MODELS, build_model
from mlcore.optim import OPTIMIZERS, build_optimizer, build_scheduler
from mlcore.training.build import build_parts

# A compatible tiny dataset per task; each model runs on every task it serves.
DATA = {
    "classification": [{"name": "moons", "n_samples": 64}, {"name": "digits"}],
    "regression": [{"name": "line", "n_samples": 64, "w": [1.0, 2.0, 3.0]}],
    "segmentation": [{"name": "digit_seg", "n_samples": 40}],
}
IMAGE_ONLY = ("cnn", "torchvision")
# keys a model needs beyond the shared ones; resnet18 on 8x8 digits also checks that a tiny
# image survives torchvision's stride-2 stem and that the 1-channel stem replacement works
EXTRA = {"torchvision": {"arch": "resnet18"}}
CASES = [
    (model, data)
    for model, (_, tasks) in MODELS.items()
    for task in tasks
    for data in DATA.get(task, [])  # a gan (generation): tests/test_gan.py
    if not (model in IMAGE_ONLY and data["name"] != "digits")
]


@pytest.mark.parametrize(("model", "data"), CASES, ids=[f"{m}-{d['name']}" for m, d in CASES])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_forward_backward(model, data, batchnorm):
    cfg = validate(
        {
            "data": {**data, "batch_size": 8},
            "model": {"name": model, "channels": [8, 16], "hidden": [16],
                      "batchnorm": batchnorm, "dropout": 0.1, **EXTRA.get(model, {})},
            "trainer": {"device": "cpu"},
        }
    )  # fmt: skip
    parts = build_parts(cfg)
    x, y = next(iter(parts.loaders["train"].epoch(1)))
    out = parts.model(x)
    if parts.task.name == "segmentation":
        assert out.shape == (len(x), parts.task.n_out, *x.shape[2:])
    else:
        assert out.shape == (len(x), parts.task.n_out)
    loss = parts.task.loss(out, y)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in parts.model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_cnn_parameter_count_follows_the_formula():
    # conv: out * (in * k * k + 1); the seed note's N*W*H*C plus one bias per filter
    from mlcore.config import ModelConfig

    model = build_model(ModelConfig(name="cnn", channels=(32,), hidden=()), (1, 8, 8), 10,
                        "classification")  # fmt: skip
    conv = model.features[0][0]
    assert sum(p.numel() for p in conv.parameters()) == 32 * (1 * 3 * 3 + 1)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("scheduler", ["none", "step", "cosine", "plateau", "onecycle"])
def test_optimizers_and_schedulers_step(name, scheduler):
    cfg = validate({"optimizer": {"name": name, "lr": 0.01}, "scheduler": {"name": scheduler}})
    model = torch.nn.Linear(3, 1)
    opt = build_optimizer(cfg.optimizer, model.parameters())
    sched = build_scheduler(cfg.scheduler, opt, epochs=2, steps_per_epoch=2, mode="min",
                            base_lr=0.01)  # fmt: skip
    before = model.weight.detach().clone()
    for _ in range(2):
        for _ in range(2):
            opt.zero_grad()
            model(torch.ones(4, 3)).pow(2).mean().backward()
            opt.step()
            sched.after_batch()
        sched.after_epoch(1.0)
    assert not torch.equal(before, model.weight)
    restored = build_scheduler(cfg.scheduler, opt, 2, 2, "min", 0.01)
    restored.load_state_dict(sched.state_dict())  # round-trips through a checkpoint


def test_sgd_nesterov_is_passed_through():
    cfg = validate({"optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True}})
    opt = build_optimizer(cfg.optimizer, torch.nn.Linear(2, 1).parameters())
    assert opt.param_groups[0]["nesterov"] and opt.param_groups[0]["momentum"] == 0.9


def test_torchvision_adapts_the_stem_to_the_data():
    from mlcore.config import ModelConfig
    from mlcore.errors import MlcoreError

    cfg = ModelConfig(name="torchvision", arch="resnet18")
    model = build_model(cfg, (1, 8, 8), 10, "classification")
    assert model.conv1.in_channels == 1 and model.fc.out_features == 10
    with pytest.raises(MlcoreError, match="did you mean resnet18"):
        build_model(ModelConfig(name="torchvision", arch="resnet81"), (1, 8, 8), 10,
                    "classification")  # fmt: skip
    with pytest.raises(MlcoreError, match="multiple of its patch size 16"):
        build_model(ModelConfig(name="torchvision", arch="vit_b_16"), (1, 8, 8), 10,
                    "classification")  # fmt: skip
    with pytest.raises(MlcoreError, match="squeezenet1_1 cannot take 1x8x8 images"):
        build_model(ModelConfig(name="torchvision", arch="squeezenet1_1"), (1, 8, 8), 10,
                    "classification")  # fmt: skip


def test_torchvision_names_the_model_keys_it_ignores():
    from mlcore.config.unused_keys import unused_keys

    cfg = validate({"model": {"name": "torchvision", "arch": "resnet18", "hidden": [32]}})
    assert unused_keys(cfg, "classification") == [
        "model.hidden has no effect on torchvision (model.arch resnet18 fixes the layers)"
    ]
