"""A small CNN: conv blocks (conv -> [BN] -> activation -> max-pool), then an MLP head.

Parameters of one conv layer: out * (in * k * k + 1) with bias, e.g. 3x3 from 1 to 32
channels = 32 * (1*3*3 + 1) = 320 (`mlcore summary` prints the count per layer).
"""

from __future__ import annotations

import torch
from torch import nn

from mlcore.models.layers import conv_unit, dense_block


def conv_block(c_in: int, c_out: int, act: str, batchnorm: bool, pool: bool) -> nn.Sequential:
    """conv -> [BN] -> activation -> [max-pool, halving H and W]."""
    layers = conv_unit(c_in, c_out, act, batchnorm)
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class CNN(nn.Module):
    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_out: int,
        channels: tuple[int, ...] = (32, 64),
        hidden: tuple[int, ...] = (128,),
        activation: str = "relu",
        batchnorm: bool = False,
        dropout: float = 0.0,
        bias: bool = True,
    ):
        super().__init__()
        c, h, w = input_shape
        blocks = []
        for c_out in channels:
            pool = min(h, w) >= 2  # an 8x8 digit survives three poolings, not four
            blocks.append(conv_block(c, c_out, activation, batchnorm, pool))
            c, h, w = c_out, (h // 2 if pool else h), (w // 2 if pool else w)
        self.features = nn.Sequential(*blocks)
        head: list[nn.Module] = [nn.Flatten()]
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        sizes = [c * h * w, *hidden]
        for n_in, n_h in zip(sizes[:-1], sizes[1:]):
            head += dense_block(n_in, n_h, activation, batchnorm, dropout, bias)
        head.append(nn.Linear(sizes[-1], n_out, bias=bias))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, C, H, W) -> (B, n_out)
