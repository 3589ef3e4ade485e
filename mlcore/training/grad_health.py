"""Gradient health: per-layer gradient norms and dead ReLU units, measured on the last
training step of each epoch (no extra forward or backward pass, so no cost elsewhere).

The seed note's argument, made measurable: a deep sigmoid net's first layers get gradients
orders of magnitude smaller than its last (each sigmoid multiplies by at most 0.25), while
ReLU passes gradients through unchanged where it is active, and not at all where it is not.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

VANISHING_RATIO = 1000.0  # warn when first-layer grad norm < last-layer / this
DEAD_FRACTION = 0.5  # warn when more than this share of a ReLU's units never fire on a batch


def weight_layers(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weight of every Linear/Conv layer, in forward order, keyed by module name."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            weight = module.weight
            if parametrize.is_parametrized(module, "weight"):  # spectral norm: the trained one
                weight = module.parametrizations.weight.original
            if weight.requires_grad:  # not a frozen copy (a GAN's EMA generator)
                out[name.removeprefix("module.")] = weight
    return out


class GradHealth:
    def __init__(self, model: nn.Module):
        self.layers = weight_layers(model)
        self.relus = {
            n.removeprefix("module."): m for n, m in model.named_modules() if isinstance(m, nn.ReLU)
        }
        self.norms: dict[str, float] = {}
        self.dead: dict[str, float] = {}
        self.reported: set[str] = set()  # kinds of warning already given
        self._hooks: list[torch.utils.hooks.RemovableHandle] = []

    @property
    def columns(self) -> list[str]:
        return [f"grad/{name}" for name in self.layers]

    def watch_activations(self) -> None:
        """Arm forward hooks on every ReLU for the next forward pass only."""
        self.dead = {}
        for name, relu in self.relus.items():
            self._hooks.append(relu.register_forward_hook(self._dead_hook(name)))

    def _dead_hook(self, name: str):
        def hook(_m: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
            # A unit (feature or channel) is dead on this batch if it is 0 for every sample
            # (and every position): (B, F) or (B, C, H, W) -> per-unit max over the rest.
            per_unit = out.detach().transpose(0, 1).flatten(1).amax(dim=1)
            self.dead[name] = float((per_unit <= 0).float().mean())
            self._unhook()

        return hook

    def _unhook(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()

    def record_grads(self) -> None:
        """Called between backward and step: the L2 norm of each layer's weight gradient."""
        self._unhook()
        self.norms = {
            f"grad/{n}": (float(p.grad.detach().norm()) if p.grad is not None else 0.0)
            for n, p in self.layers.items()
        }

    def state_dict(self) -> dict[str, Any]:
        """What was measured on the last step, for a run interrupted right after it."""
        return {
            "norms": dict(self.norms),
            "dead": dict(self.dead),
            "reported": sorted(self.reported),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.norms, self.dead = dict(state["norms"]), dict(state["dead"])
        self.reported = set(state["reported"])

    def warnings(self) -> list[str]:
        """New problems only: each kind (vanishing, a dead layer) is reported once per run,
        the first epoch it shows; plots/grad_norms.png has every epoch."""
        found = {}
        values = list(self.norms.values())
        if len(values) >= 2 and values[-1] > 0:
            first, last = values[0], values[-1]
            if first * VANISHING_RATIO < last:
                ratio = f"{last / first:.0f}x" if first > 0 else "infinitely"
                found["vanishing"] = (
                    f"vanishing gradients: the first layer's gradient norm ({first:.2e}) is "
                    f"{ratio} smaller than the last layer's ({last:.2e}); try relu, "
                    "batchnorm or a shallower net (plots/grad_norms.png shows every layer)"
                )
        for name, frac in self.dead.items():
            if frac > DEAD_FRACTION:
                found[f"dead:{name}"] = (
                    f"dying ReLU: {frac:.0%} of the units of {name} never activate on a batch; "
                    "try a lower learning rate or leaky_relu"
                )
        new = [kind for kind in found if kind not in self.reported]
        self.reported.update(new)
        return [found[kind] for kind in new]
