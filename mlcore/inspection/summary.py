"""`mlcore summary`: a config's model layer by layer, with each parameter count explained.

The model is built exactly as `train` builds it (same data, task and builder); output shapes
come from forward hooks during one forward on the meta device (no compute, no memory), so a
ResNet-50 at 224x224 answers as fast as the small CNN. Counts are the module's own
parameters, so the rows add up to `sum(p.numel() for p in model.parameters())`.

The arithmetic column follows the seed note's rule for a conv layer, N filters of size
W x H x C give N x W x H x C weights, plus the N biases it leaves out:
`N × (kh × kw × C) + N`, with C = in_channels / groups (each filter sees one group).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlcore.config import Config
from mlcore.data import build_data_or_published
from mlcore.errors import MlcoreError
from mlcore.models import build_model
from mlcore.models.probe import meta_forward
from mlcore.training.build import build_task

PROBE_BATCH = 2  # hooks see (2, ...): more than one sample, so nothing squeezes the batch


@dataclass
class LayerRow:
    name: str  # qualified module name, e.g. features.0.0
    type: str  # class name, e.g. Conv2d
    output_shape: list[Any] | None  # ["B", 32, 8, 8]; None when forward never calls it
    calls: int  # forward calls per model forward (a ReLU reused in a block: 2)
    params: int  # the module's own parameters
    trainable_params: int
    arithmetic: str  # "32 × (3 × 3 × 1) + 32 = 320" for conv and linear layers, else ""


@dataclass
class ModelSummary:
    model: str  # "cnn", or "torchvision resnet18"
    data: str
    input_shape: list[int]  # one sample: (C, H, W) or (features,)
    num_outputs: int
    layers: list[LayerRow]
    total_params: int
    trainable_params: int
    buffer_values: int  # batchnorm running statistics and the like: saved, not trained
    note: str = ""  # why output shapes are missing, if they are
    latent_dim: int | None = None  # a GAN: its generator's input
    pack: int = 1  # a GAN: samples per discriminator row (PacGAN)
    param_bytes_fp32: int = field(init=False)
    non_trainable_params: int = field(init=False)

    def __post_init__(self) -> None:
        self.param_bytes_fp32 = 4 * self.total_params  # 4 bytes per fp32 value
        self.non_trainable_params = self.total_params - self.trainable_params

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(cfg: Config, source: str | Path = "<config>") -> ModelSummary:
    """Build `cfg`'s model for its data and describe it; errors name `source` as train's do."""
    try:
        shape, n_out, task = _data_shape(cfg)
        torch.manual_seed(cfg.run.seed)  # the initial weights train would draw
        model = build_model(cfg.model, shape, n_out, task)
    except MlcoreError as err:
        raise MlcoreError(f"{source}: {err}") from None
    shapes, note = record_shapes(model, shape)
    params = list(model.parameters())
    name = cfg.model.name + (f" {cfg.model.arch}" if cfg.model.arch else "")
    return ModelSummary(
        model=name,
        data=cfg.data.name,
        input_shape=list(shape),
        num_outputs=n_out,
        latent_dim=getattr(model, "latent_dim", None),
        pack=int(getattr(model, "pack", 1)),
        layers=layer_rows(model, shapes),
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        buffer_values=sum(b.numel() for b in model.buffers()),
        note=note,
    )


def _data_shape(cfg: Config) -> tuple[tuple[int, ...], int, str]:
    """(input shape, outputs, task) from the data, or from a torchvision set's published
    sizes when its files are not downloaded yet (the model does not depend on them)."""
    data, published = build_data_or_published(cfg.data, cfg.run.seed)
    if data is None:
        shape, classes, _, _ = published
        return shape, classes, "generation" if cfg.model.name == "gan" else "classification"
    task = build_task(cfg, data)
    return tuple(data.input_shape), task.n_out, task.name


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The rows: every leaf module, and every container that holds parameters of its own
    (a ViT's class token). A weight parametrization (spectral norm) belongs to its layer."""
    rows = []
    for name, module in model.named_modules():
        if "parametrizations" in name.split("."):
            continue
        children = {child for child, _ in module.named_children()}
        own = any(True for _ in _own_params(module))
        if not children - {"parametrizations"} or own:
            rows.append((name or "(model)", module))
    return rows


def _own_params(module: nn.Module) -> list[nn.Parameter]:
    """Parameters held by the module itself, and by its parametrizations (spectral norm
    keeps the raw weight there), not by its sublayers."""
    own = list(module.parameters(recurse=False))
    if hasattr(module, "parametrizations"):
        own += list(module.parametrizations.parameters())
    return own


def layer_rows(model: nn.Module, shapes: dict[str, tuple[list[Any], int]]) -> list[LayerRow]:
    rows = []
    for name, module in _layers(model):
        own = _own_params(module)
        shape, calls = shapes.get(name, (None, 0))
        rows.append(
            LayerRow(
                name=name,
                type=type(module).__name__,
                output_shape=shape,
                calls=calls,
                params=sum(p.numel() for p in own),
                trainable_params=sum(p.numel() for p in own if p.requires_grad),
                arithmetic=arithmetic(module),
            )
        )
    return rows


def arithmetic(module: nn.Module) -> str:
    """The parameter count written out: conv `N × (kh × kw × C) + N`, linear
    `out × in + out`, a normalization's scale and shift `2 × C`; any other layer's own
    parameters by name; "" for a layer without parameters."""
    weight = getattr(module, "weight", None)
    bias = getattr(module, "bias", None)
    if not isinstance(weight, torch.Tensor):
        return _by_name(module)
    n_bias = bias.numel() if isinstance(bias, torch.Tensor) else 0
    total = weight.numel() + n_bias
    plus = f" + {n_bias}" if n_bias else ""
    if isinstance(module, nn.modules.conv._ConvNd):
        # N filters of kh × kw × C weights, C = in_channels / groups; for a transposed conv
        # too, though its weight is stored (C_in, N / groups, kh, kw)
        kernel = " × ".join(str(k) for k in module.kernel_size)
        n, c = module.out_channels, module.in_channels // module.groups
        return f"{n} × ({kernel} × {c}){plus} = {total:,}"
    if isinstance(module, nn.Linear):
        return f"{weight.shape[0]} × {weight.shape[1]}{plus} = {total:,}"
    norms = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
    if isinstance(module, norms) and n_bias == weight.numel():
        return f"2 × {weight.numel()} = {total:,}"  # a scale and a shift per channel
    return _by_name(module)


def _by_name(module: nn.Module) -> str:
    """Any other layer: its own parameters by name and shape, e.g. a ViT's
    `class_token 1 × 1 × 768 = 768`, attention's `in_proj_weight 2304 × 768 + ...`."""
    own = list(module.named_parameters(recurse=False))
    if not own:
        return ""
    terms = " + ".join(f"{name} {' × '.join(str(d) for d in p.shape)}" for name, p in own)
    return f"{terms} = {sum(p.numel() for _, p in own):,}"


def _shape_of(output: Any, batch: str = "B") -> list[Any] | None:
    """(2, 32, 8, 8) -> ["B", 32, 8, 8] (`batch`: the name of the probe's PROBE_BATCH rows);
    a tuple output (attention: values, weights) gives the shape of its first tensor."""
    if isinstance(output, torch.Tensor):
        dims = list(output.shape)
        return [batch, *dims[1:]] if dims and dims[0] == PROBE_BATCH else dims
    if isinstance(output, (tuple, list)):
        for item in output:
            shape = _shape_of(item, batch)
            if shape is not None:
                return shape
    return None


class _Judge(nn.Module):
    """A GAN's discriminator as its step calls it (on packs of samples)."""

    def __init__(self, gan: nn.Module):
        super().__init__()
        self.gan = gan

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gan.judge(x)


def _forward_passes(
    model: nn.Module, input_shape: tuple[int, ...]
) -> list[tuple[Any, tuple, int, str]]:
    """What to run for the shapes, on how many samples, and what their rows are called:
    the model on a batch of data; a GAN, its generator on latents and its discriminator on
    data (the weight average, never called in training, keeps its shapes unknown). The
    discriminator sees packs of `pack` samples (PacGAN): B samples are B/pack rows, so it
    is probed with PROBE_BATCH packs, not PROBE_BATCH samples (a batch of 1 pack)."""
    if hasattr(model, "generator") and hasattr(model, "judge"):
        pack = int(getattr(model, "pack", 1))
        rows = "B" if pack == 1 else f"B/{pack}"
        return [
            (model.generator, (model.latent_dim,), PROBE_BATCH, "B"),
            (_Judge(model), input_shape, PROBE_BATCH * pack, rows),
        ]
    return [(model, input_shape, PROBE_BATCH, "B")]


def record_shapes(
    model: nn.Module, input_shape: tuple[int, ...]
) -> tuple[dict[str, tuple[list[Any], int]], str]:
    """name -> (output shape of the first call, number of calls) over one meta forward;
    and a note saying why the shapes are missing if that forward fails."""
    seen: dict[str, tuple[list[Any], int]] = {}
    rows = ["B"]  # what the pass now running calls its PROBE_BATCH rows

    def hook(name: str):
        def record(_module: nn.Module, _inputs: Any, output: Any) -> None:
            shape, calls = seen.get(name, (_shape_of(output, rows[0]), 0))
            seen[name] = (shape, calls + 1)

        return record

    handles = [m.register_forward_hook(hook(name or "(model)")) for name, m in _layers(model)]
    try:
        for net, shape, batch, rows[0] in _forward_passes(model, tuple(input_shape)):
            meta_forward(net, shape, batch=batch)
    except Exception as err:  # noqa: BLE001 - an op without a meta kernel: counts still hold
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return {}, f"output shapes unavailable: the forward on the meta device failed ({first})"
    finally:
        for handle in handles:
            handle.remove()
    return seen, ""
