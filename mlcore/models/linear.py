"""The hypothesis of linear regression, H(x) = Wx + b (logistic regression for classes)."""

from __future__ import annotations

import math

import torch
from torch import nn


class Linear(nn.Module):
    """One affine map from the flattened input to the outputs; no hidden layer.

    For regression the output is the prediction itself; for classification it is the
    logits of multinomial logistic regression (softmax inside the cross-entropy loss).
    """

    def __init__(self, input_shape: tuple[int, ...], n_out: int, bias: bool = True):
        super().__init__()
        self.fc = nn.Linear(math.prod(input_shape), n_out, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))  # (B, *input_shape) -> (B, n_out)
