"""Measures of the model itself, beside the report's metrics: weight sparsity and L2 norm of
a checkpoint, and dead ReLU units on the evaluated split.

Weights are the tensors L1/L2 regularization acts on (weight matrices and kernels, dim > 1;
biases and batchnorm parameters left out, see training/step.py), so the L1-vs-L2 claim
measures exactly what the penalty pushed. A weight counts as zero below SPARSE_BELOW in
absolute value: L1 with (sub)gradient steps leaves weights oscillating near 0, never at 0.

A ReLU unit (a feature of a (B, F) output, a channel of a (B, C, H, W) one) is dead when its
output is 0 for every sample of the split (and every position): it passes no gradient for
any input the split holds. A leaky ReLU never outputs exactly 0, so its units cannot die;
they are counted apart as `never_positive` (their input was negative for the whole split),
and the `dead_relu` totals cover plain ReLUs only.

Each layer has its module path (`layer`, as in the `grad/<layer>` columns of metrics.csv)
and a `label` as a reader counts it (training/layer_labels.py): "linear 1", and for a ReLU
the weight layer it follows, "after linear 1".
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mlcore.training.device import unwrap
from mlcore.training.layer_labels import layer_labels

SPARSE_BELOW = 1e-3  # |w| below this counts as a zero weight
# metrics.csv columns with trainer.log_model_stats (val/: measured on the validation split)
MODEL_STAT_COLUMNS = ("weights/sparsity", "weights/norm", "val/dead_relu")


def weighted_layers(model: nn.Module) -> dict[str, torch.Tensor]:
    """{layer path: weight} for each module's own weight tensors of dim > 1, in model order."""
    out: dict[str, torch.Tensor] = {}
    for path, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            if p.dim() > 1 and p.requires_grad:
                key = path.removeprefix("module.") or pname
                out[key if pname == "weight" else f"{key}.{pname}"] = p.detach()
    return out


def weight_stats(model: nn.Module) -> dict[str, Any]:
    """{"layers": [{layer, label, params, sparsity, norm}], "sparsity", "norm", "params"}: the
    fraction of weights with |w| < SPARSE_BELOW and the L2 norm, per layer and over all."""
    model = unwrap(model)  # a DDP/dp wrapper's names are the bare model's, prefixed
    layers = []
    zeros, total, sq = 0, 0, 0.0
    labels = layer_labels(model)
    for name, w in weighted_layers(model).items():
        w64 = w.double()
        n_zero, n = int((w64.abs() < SPARSE_BELOW).sum()), w64.numel()
        layer_sq = float(w64.pow(2).sum())
        layers.append({"layer": name, "label": labels.get(name, name), "params": n,
                       "sparsity": n_zero / n, "norm": layer_sq**0.5})  # fmt: skip
        zeros, total, sq = zeros + n_zero, total + n, sq + layer_sq
    return {
        "layers": layers,
        "params": total,
        "sparsity": zeros / total if total else None,
        "norm": sq**0.5 if total else None,
    }


class DeadReluProbe:
    """Forward hooks on every ReLU and leaky ReLU; `with DeadReluProbe(model) as probe:` around
    an evaluation loop, then `probe.report()`. Per unit it keeps one flag, "was ever > 0", so
    its memory does not grow with the split."""

    def __init__(self, model: nn.Module):
        self.kinds: dict[str, str] = {}
        self.modules: dict[str, nn.Module] = {}
        self.labels: dict[str, str] = {}
        model = unwrap(model)  # names as the bare model's (hooks on it fire inside a wrapper)
        weight_labels, after = layer_labels(model), None
        for name, m in model.named_modules():  # registration order: forward order in mlcore
            key = name.removeprefix("module.")
            after = weight_labels.get(key, after)
            kind = "leaky_relu" if isinstance(m, nn.LeakyReLU) else "relu"
            if isinstance(m, (nn.ReLU, nn.LeakyReLU)):
                self.kinds[key], self.modules[key] = kind, m
                self.labels[key] = f"after {after}" if after else key
        self.active: dict[str, torch.Tensor | None] = {}  # [units] bool; None: shapes disagree
        self._hooks: list[torch.utils.hooks.RemovableHandle] = []

    def __enter__(self) -> DeadReluProbe:
        for name, m in self.modules.items():
            self._hooks.append(m.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()

    def _hook(self, name: str):
        def hook(_m: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
            # (B, F) or (B, C, H, W) -> [units]: did the unit fire for some sample/position?
            fired = out.detach().transpose(0, 1).flatten(1).gt(0).any(dim=1)
            seen = self.active.get(name, fired)
            if seen is None or seen.shape != fired.shape:
                self.active[name] = None  # a module reused at another width: not measurable
            else:
                self.active[name] = seen | fired

        return hook

    def all_reduce(self) -> None:
        """DDP: a unit is alive if it fired on any rank's share of the split. The flags
        travel as objects: a rank whose share held no batch has none to reduce, and a
        tensor all-reduce with missing entries would hang the others."""
        mine = {k: (None if v is None else v.cpu()) for k, v in self.active.items()}
        gathered: list[dict[str, torch.Tensor | None]] = [{}] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(gathered, mine)
        merged: dict[str, torch.Tensor | None] = {}
        for flags in gathered:
            for name, f in flags.items():
                seen = merged.get(name, f)
                ok = f is not None and seen is not None and seen.shape == f.shape
                merged[name] = (seen | f) if ok else None
        self.active = merged

    def report(self) -> dict[str, Any]:
        """{"layers": [{layer, label, kind, units, dead}], "dead_relu", "never_positive"}; `dead` is
        the dead (relu) or never-positive (leaky) fraction; totals are over units, null when
        the model has no such layer or the layer never ran."""
        layers = []
        counts = {"relu": [0, 0], "leaky_relu": [0, 0]}  # [dead or never positive, units]
        for name, kind in self.kinds.items():
            flags = self.active.get(name)
            units = None if flags is None else int(flags.numel())
            idle = None if flags is None else int((~flags).sum())
            dead = None if flags is None else idle / units
            layers.append({"layer": name, "label": self.labels[name], "kind": kind,
                           "units": units, "dead": dead})  # fmt: skip
            if flags is not None:
                counts[kind][0] += idle
                counts[kind][1] += units
        ratio = {k: (d / n if n else None) for k, (d, n) in counts.items()}
        return {"layers": layers, "dead_relu": ratio["relu"], "never_positive": ratio["leaky_relu"]}


def model_section(model: nn.Module, probe: DeadReluProbe) -> dict[str, Any]:
    """The report's `model` section: weights of the evaluated checkpoint, ReLUs on the split."""
    return {
        "weights": weight_stats(model),
        "activations": probe.report(),
        "sparse_below": SPARSE_BELOW,
    }


def model_stat_columns(model: nn.Module) -> list[str]:
    """The metrics.csv columns this model can fill: val/dead_relu only when it has ReLUs."""
    relu = any(isinstance(m, nn.ReLU) for m in model.modules())
    return [c for c in MODEL_STAT_COLUMNS if relu or c != "val/dead_relu"]


def stat_columns(section: dict[str, Any]) -> dict[str, float]:
    """A `model` section as the metrics.csv columns; NaN where there is nothing to measure."""
    values = (
        section["weights"]["sparsity"],
        section["weights"]["norm"],
        section["activations"]["dead_relu"],
    )
    return {k: float("nan") if v is None else float(v) for k, v in zip(MODEL_STAT_COLUMNS, values)}
