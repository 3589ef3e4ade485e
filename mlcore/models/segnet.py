"""A small U-Net-like encoder-decoder for semantic segmentation (Ronneberger et al., 2015).

Each encoder level halves H and W; each decoder level upsamples and concatenates the
encoder features of the same size (the skip connection), so fine detail lost by pooling
comes back. The output has one logit per class per pixel: (B, C, H, W).
"""

from __future__ import annotations

import torch
from torch import nn

from mlcore.models.layers import conv_unit


def double_conv(c_in: int, c_out: int, act: str, batchnorm: bool, dropout: float) -> nn.Sequential:
    layers = conv_unit(c_in, c_out, act, batchnorm) + conv_unit(c_out, c_out, act, batchnorm)
    if dropout > 0:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


class SegNet(nn.Module):
    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_out: int,
        channels: tuple[int, ...] = (16, 32),
        activation: str = "relu",
        batchnorm: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        c_in, h, w = input_shape
        levels = len(channels)
        if h % 2**levels or w % 2**levels:
            from mlcore.errors import MlcoreError

            raise MlcoreError(
                f"model.channels: {levels} levels halve the {h}x{w} input {levels} times; "
                f"use at most {_max_levels(h, w)} levels for this dataset"
            )
        self.down = nn.ModuleList()
        for c in channels:
            self.down.append(double_conv(c_in, c, activation, batchnorm, 0.0))
            c_in = c
        self.pool = nn.MaxPool2d(2)
        self.bottom = double_conv(c_in, 2 * c_in, activation, batchnorm, dropout)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        c_in = 2 * c_in
        for c in reversed(channels):
            self.up.append(nn.ConvTranspose2d(c_in, c, 2, stride=2))
            self.merge.append(double_conv(2 * c, c, activation, batchnorm, 0.0))
            c_in = c
        self.classify = nn.Conv2d(c_in, n_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)  # (B, c, H/2^i, W/2^i)
            x = self.pool(x)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.classify(x)  # (B, n_classes, H, W)


def _max_levels(h: int, w: int) -> int:
    n = 0
    while h % 2 == 0 and w % 2 == 0 and min(h, w) >= 4:
        h, w, n = h // 2, w // 2, n + 1
    return n
