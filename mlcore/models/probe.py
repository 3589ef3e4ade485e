"""Run a model's forward on the meta device: shapes without compute or memory.

`torch.func.functional_call` swaps every parameter and buffer for a meta tensor of the same
shape for one call, so the real model (its init already drawn) is untouched and no copy of
its weights is made; forward hooks on its submodules still fire.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def meta_forward(model: nn.Module, input_shape: tuple[int, ...], batch: int = 2) -> Any:
    """`model` applied to a meta batch of `batch` samples of `input_shape`, in eval mode
    (batchnorm must not update its running statistics); the training mode is restored."""
    state = {
        name: torch.empty_like(t, device="meta")
        for name, t in [*model.named_parameters(), *model.named_buffers()]
    }
    x = torch.empty(batch, *input_shape, device="meta")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.func.functional_call(model, state, (x,))
    finally:
        model.train(was_training)
