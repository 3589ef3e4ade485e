"""Small building blocks shared by the model families."""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
}


def activation(name: str) -> nn.Module:
    # The config has already checked the name against mlcore.config.ACTIVATIONS.
    return ACTIVATIONS[name]()


def dense_block(
    n_in: int, n_out: int, act: str, batchnorm: bool, dropout: float, bias: bool
) -> list[nn.Module]:
    """Linear -> [BatchNorm1d] -> activation -> [Dropout].

    With batchnorm the linear bias is redundant (BN subtracts the mean and adds its own
    shift), so it is dropped whatever `bias` says.
    """
    layers: list[nn.Module] = [nn.Linear(n_in, n_out, bias=bias and not batchnorm)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(n_out))
    layers.append(activation(act))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


def conv_unit(c_in: int, c_out: int, act: str, batchnorm: bool) -> list[nn.Module]:
    """3x3 conv (padding 1 keeps H and W) -> [BatchNorm2d] -> activation; as in dense_block,
    batchnorm's shift replaces the conv bias."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batchnorm)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(activation(act))
    return layers
