"""A multilayer perceptron: hidden blocks of Linear -> [BN] -> activation -> [Dropout]."""

from __future__ import annotations

import math

import torch
from torch import nn

from mlcore.models.layers import dense_block


class MLP(nn.Module):
    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_out: int,
        hidden: tuple[int, ...] = (64,),
        activation: str = "relu",
        batchnorm: bool = False,
        dropout: float = 0.0,
        bias: bool = True,
    ):
        super().__init__()
        sizes = [math.prod(input_shape), *hidden]
        blocks: list[nn.Module] = []
        for n_in, n_h in zip(sizes[:-1], sizes[1:]):
            blocks += dense_block(n_in, n_h, activation, batchnorm, dropout, bias)
        self.hidden = nn.Sequential(*blocks)
        self.head = nn.Linear(sizes[-1], n_out, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(x.flatten(1)))  # (B, ...) -> (B, n_out)
