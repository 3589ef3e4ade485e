"""The model registry: one plain dict from config name to a builder.

A builder takes the model config and what the data says about shapes (input shape, number
of outputs, task) and returns an nn.Module. Models never print and never read files.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from mlcore.config import ModelConfig
from mlcore.errors import MlcoreError
from mlcore.models.cnn import CNN
from mlcore.models.gan import GAN
from mlcore.models.linear import Linear
from mlcore.models.mlp import MLP
from mlcore.models.segnet import SegNet
from mlcore.models.torchvision_net import build_torchvision

Builder = Callable[[ModelConfig, tuple[int, ...], int], nn.Module]


def _linear(cfg: ModelConfig, shape: tuple[int, ...], n_out: int) -> nn.Module:
    return Linear(shape, n_out, bias=cfg.bias)


def _mlp(cfg: ModelConfig, shape: tuple[int, ...], n_out: int) -> nn.Module:
    return MLP(shape, n_out, cfg.hidden, cfg.activation, cfg.batchnorm, cfg.dropout, cfg.bias)


def _cnn(cfg: ModelConfig, shape: tuple[int, ...], n_out: int) -> nn.Module:
    if len(shape) != 3:
        raise MlcoreError(
            f"model.name: cnn needs image data (C, H, W), but this dataset gives {shape}; "
            "use mlp or linear, or an image dataset (digits, mnist, cifar10, image_folder)"
        )
    return CNN(
        shape, n_out, cfg.channels, cfg.hidden, cfg.activation, cfg.batchnorm, cfg.dropout, cfg.bias
    )


def _segnet(cfg: ModelConfig, shape: tuple[int, ...], n_out: int) -> nn.Module:
    return SegNet(shape, n_out, cfg.channels, cfg.activation, cfg.batchnorm, cfg.dropout)


def _torchvision(cfg: ModelConfig, shape: tuple[int, ...], n_out: int) -> nn.Module:
    return build_torchvision(cfg.arch or "", shape, n_out)


def _gan(cfg: ModelConfig, shape: tuple[int, ...], n_out: int) -> nn.Module:
    return GAN(cfg, shape)  # n_out: a sample has the data's own shape


# name -> (builder, tasks it serves)
MODELS: dict[str, tuple[Builder, tuple[str, ...]]] = {
    "linear": (_linear, ("regression", "classification")),
    "mlp": (_mlp, ("regression", "classification")),
    "cnn": (_cnn, ("classification",)),
    "segnet": (_segnet, ("segmentation",)),
    "torchvision": (_torchvision, ("classification",)),
    "gan": (_gan, ("generation",)),
}


def build_model(cfg: ModelConfig, input_shape: tuple[int, ...], n_out: int, task: str) -> nn.Module:
    """Build `cfg.name` for data of `input_shape` with `n_out` outputs, or raise MlcoreError."""
    if cfg.name not in MODELS:
        raise MlcoreError(f"model.name: unknown model {cfg.name!r}; valid: {', '.join(MODELS)}")
    builder, tasks = MODELS[cfg.name]
    if task not in tasks:
        fits = [name for name, (_, t) in MODELS.items() if task in t]
        raise MlcoreError(
            f"model.name: {cfg.name} does not do {task}; for this dataset use one of: "
            + ", ".join(fits)
        )
    return builder(cfg, tuple(input_shape), n_out)


def smallest_batch(cfg: ModelConfig, model: nn.Module) -> tuple[int, str]:
    """The smallest training batch the model can take, and why: batchnorm cannot normalize
    one sample (PyTorch raises); a GAN's discriminator judges `pack` samples at a time, so
    with batchnorm it needs two packs."""

    def has_bn(net: nn.Module) -> bool:
        return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())

    if cfg.name != "gan":
        return (2, "batchnorm cannot normalize a batch of one sample") if has_bn(model) else (1, "")
    pack = model.pack
    if has_bn(model.discriminator):
        return 2 * pack, f"the discriminator's batchnorm needs two packs of {pack} samples"
    if has_bn(model.generator):
        return max(2, pack), "batchnorm cannot normalize a batch of one sample"
    return pack, f"the discriminator judges packs of model.pack = {pack} samples"
