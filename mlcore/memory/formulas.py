"""The fallback when the step cannot be traced: textbook formulas, marked approximate.

parameters + gradients (same size) + optimizer state (Adam/AdamW two tensors per
parameter, RMSprop one and one more with momentum, SGD one with momentum) + activations:
the outputs of every leaf module in one forward on the meta device (what backward keeps
is close to that; the figure is approximate and said to be) + the batch and the data held
on the device.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlcore.config import Config
from mlcore.memory.trace import DataSpec, Trace
from mlcore.memory.tracker import Event
from mlcore.models import build_model


def optimizer_copies(cfg: Config) -> int:
    """Parameter-sized state tensors the optimizer keeps."""
    opt = cfg.optimizer
    if opt.name in ("adam", "adamw"):
        return 2
    if opt.name == "rmsprop":
        return 1 + (opt.momentum > 0)
    return int(opt.momentum > 0)


def formula_trace(
    cfg: Config, spec: DataSpec, batch: int, precision: str, replica: bool = False
) -> Trace:
    with torch.device("meta"):
        model = build_model(cfg.model, spec.input_shape, spec.n_out, spec.model_task)
    elem = 2 if precision == "fp16" else 4
    sizes = [p.numel() * elem for p in model.parameters()]
    params = sum(sizes)
    events = [Event("alloc", 0, params, "parameters"), Event("alloc", 1, params, "gradients")]
    if not replica:
        events.append(Event("alloc", 2, params * optimizer_copies(cfg), "optimizer_states"))
    act_elem = 2 if precision in ("fp16", "amp", "bf16") else 4
    events.append(Event("alloc", 3, _activations(model, spec, batch) * act_elem, "activations"))
    sample = elem * math.prod(spec.input_shape) + 8 * math.prod(spec.target_shape)
    rows = batch if replica else batch + sum(spec.resident.values())
    events.append(Event("alloc", 4, rows * sample, "inputs"))
    return Trace(
        events=events,
        ops={"mm"},  # assume matmuls: their workspaces count
        backward_ops={"mm"},
        parameters=params // elem,
        param_sizes=sizes,
    )


def _activations(model: nn.Module, spec: DataSpec, batch: int) -> int:
    """Elements output by leaf modules in one forward pass of `batch` samples (meta)."""
    total = 0

    def count(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel()

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        model(torch.empty(batch, *spec.input_shape, device="meta"))
    except Exception:  # noqa: BLE001 - a fallback of the fallback: parameters alone
        total = 0
    finally:
        for h in handles:
            h.remove()
    return total
