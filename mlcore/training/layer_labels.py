"""Names for a model's weight layers as a reader counts them: "conv 1", "linear 3 (output)".

metrics.csv keeps its `grad/<module path>` columns (`grad/features.1.0`, `grad/head.6`):
old runs stay readable and other tools key on them. These labels are for what a person
reads (the grad-norm plot, a table), mapped from the module path at display time.
"""

from __future__ import annotations

from torch import nn

from mlcore.training.device import unwrap
from mlcore.training.grad_health import weight_layers

# The kind of layer a reader counts; a transposed conv is the decoder's upsampling step.
KINDS: tuple[tuple[type[nn.Module], str], ...] = (
    (nn.ConvTranspose2d, "up-conv"),
    (nn.Conv2d, "conv"),
    (nn.Linear, "linear"),
)
# A GAN holds two networks; each is counted on its own, with a prefix saying which.
NETWORKS = {"generator": "G", "discriminator": "D"}


def _kind(module: nn.Module) -> str:
    return next(name for cls, name in KINDS if isinstance(module, cls))


def layer_labels(model: nn.Module) -> dict[str, str]:
    """Module path (as in the `grad/<path>` columns) -> label, in the columns' order.

    Each kind is numbered from 1 in registration order, which is forward order for every
    mlcore model (a U-Net's up-convs and convs interleave, but each kind alone is in
    order); the last weight layer of each network is marked "(output)".
    """
    model = unwrap(model)  # the columns' names are the bare model's (no DDP/dp wrapper)
    paths = list(weight_layers(model))
    modules = {name.removeprefix("module."): m for name, m in model.named_modules()}
    counts: dict[tuple[str, str], int] = {}
    labels: dict[str, str] = {}
    for path in paths:
        network = NETWORKS.get(path.split(".")[0], "")
        kind = _kind(modules[path])
        counts[network, kind] = counts.get((network, kind), 0) + 1
        labels[path] = f"{network} {kind} {counts[network, kind]}".strip()
    last: dict[str, str] = {}  # network -> its last weight layer's path
    for path in paths:
        last[NETWORKS.get(path.split(".")[0], "")] = path
    for path in last.values():
        labels[path] += " (output)"
    return labels
