"""Any classification network of `torchvision.models`, by name (`model.arch`).

Built with `weights=None` (random init, never a download) and `num_classes` from the data.
Input channels follow the data: torchvision's stems take 3 (RGB), so for 1-channel data
(digits, mnist) the first Conv2d is replaced by one with the same kernel, stride and padding
and C input channels, whose weights are the builder's own initial weights restricted to the
first C channels (repeated cyclically when C > 3). Everything after the stem is unchanged.

Input sizes: the ResNets, MobileNets, EfficientNets, RegNets, MNASNets, ShuffleNets, Swins take
anything from 8x8 up (the stem and the strided stages shrink a small image to 1x1 and the
adaptive pooling does the rest). Others need more: GoogLeNet, SqueezeNet 28x28; VGG,
DenseNet, ConvNeXt 32x32; AlexNet 64x64; Inception v3 75x75; MaxViT a multiple of 224.
The ViTs have a fixed `image_size`, passed here from the data: square images whose side is a
multiple of the patch size (cifar10's 32 for vit_b_16 and vit_b_32). Whether a network
takes the data's size is checked once with a forward on the meta device, so a mismatch is a
one-line error at build time rather than a traceback in the first training step.
"""

from __future__ import annotations

import difflib
from typing import Any

import torch
from torch import nn

from mlcore.errors import MlcoreError
from mlcore.models.probe import meta_forward

# Builder arguments that differ from torchvision's defaults. The Inception-style nets return
# (logits, aux logits) while training unless told not to; `init_weights=True` is what they
# do anyway and says so, which silences their FutureWarning.
EXTRA_KWARGS: dict[str, dict[str, Any]] = {
    "googlenet": {"aux_logits": False, "init_weights": True},
    "inception_v3": {"aux_logits": False, "init_weights": True},
}


def arch_names() -> list[str]:
    """Every classification builder torchvision registers (`torchvision.models` only: the
    detection, segmentation and video submodules are left out)."""
    import torchvision.models

    return torchvision.models.list_models(module=torchvision.models)


def _check_arch(arch: str) -> None:
    names = arch_names()
    if arch not in names:
        close = difflib.get_close_matches(arch, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise MlcoreError(
            f"model.arch: {arch!r} is not a torchvision classification model; {hint}"
            'list them with: python -c "import torchvision; print(torchvision.models.'
            'list_models(module=torchvision.models))"'
        )


def _size_kwargs(arch: str, shape: tuple[int, ...]) -> dict[str, Any]:
    """The ViTs and MaxViT are built for one input size: give them the data's."""
    _, h, w = shape
    if arch.startswith("vit_"):
        patch = int(arch.rsplit("_", 1)[-1])
        if h != w or h % patch:
            raise MlcoreError(
                f"model.arch: {arch} takes square images whose side is a multiple of its "
                f"patch size {patch}, but this data gives {_dims(shape)}; use e.g. cifar10 "
                "(32x32) or an image_folder of such images, or a convolutional arch"
            )
        return {"image_size": h}
    if arch.startswith("maxvit_"):
        return {"input_size": (h, w)}
    return {}


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _first_conv(model: nn.Module) -> tuple[nn.Module, str, nn.Conv2d]:
    """(parent, attribute name, conv) of the first Conv2d that reads 3 channels."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and module.in_channels == 3:
            parent_name, _, attr = name.rpartition(".")
            return model.get_submodule(parent_name), attr, module
    raise MlcoreError("model.arch: found no 3-channel input convolution to adapt")


def adapt_input_channels(model: nn.Module, channels: int) -> None:
    """Replace the stem's 3-channel conv by a `channels`-channel one (see the module doc)."""
    parent, attr, old = _first_conv(model)
    new = nn.Conv2d(
        channels,
        old.out_channels,
        old.kernel_size,
        stride=old.stride,
        padding=old.padding,
        dilation=old.dilation,
        groups=old.groups,
        bias=old.bias is not None,
        padding_mode=old.padding_mode,
        device=old.weight.device,
    )
    with torch.no_grad():
        new.weight.copy_(old.weight[:, [c % 3 for c in range(channels)]])
        if old.bias is not None:
            new.bias.copy_(old.bias)
    setattr(parent, attr, new)


def build_torchvision(arch: str, shape: tuple[int, ...], n_out: int) -> nn.Module:
    """torchvision's `arch` for images of `shape` (C, H, W) and `n_out` classes."""
    if len(shape) != 3:
        raise MlcoreError(
            f"model.name: torchvision needs image data (C, H, W), but this dataset gives "
            f"{shape}; use mlp or linear, or an image dataset (digits, mnist, cifar10, "
            "image_folder)"
        )
    _check_arch(arch)
    import torchvision.models

    kwargs = {**EXTRA_KWARGS.get(arch, {}), **_size_kwargs(arch, shape)}
    try:
        model = torchvision.models.get_model(arch, weights=None, num_classes=n_out, **kwargs)
    except (ValueError, AssertionError) as err:  # a size the builder refuses
        raise MlcoreError(
            f"model.arch: {arch} cannot take {_dims(shape)} images: {_first_line(err)}"
        ) from None
    if shape[0] != 3:
        adapt_input_channels(model, shape[0])
    _check_input_size(model, arch, shape)
    return model


def _check_input_size(model: nn.Module, arch: str, shape: tuple[int, ...]) -> None:
    try:
        meta_forward(model, shape)
    except (RuntimeError, ValueError, AssertionError) as err:
        raise MlcoreError(
            f"model.arch: {arch} cannot take {_dims(shape)} images ({_first_line(err)}); use "
            "larger images or an arch that takes small ones (resnet18, mobilenet_v3_small, "
            "efficientnet_b0; see mlcore/models/torchvision_net.py)"
        ) from None
