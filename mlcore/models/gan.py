"""A GAN: a generator (latent z -> sample) and a discriminator (sample -> one logit).

Vectors get an MLP pair; images a DCGAN-style pair (Radford et al., 2016): the generator
projects z to a small C x h x w map and doubles its size with 4x4 stride-2 transposed
convolutions; the discriminator halves it with 4x4 stride-2 convolutions. `ema` keeps an
exponential moving average of the generator's weights (Yazici et al., 2019), which samples
more steadily than the generator itself at any one step.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from mlcore.config import DiscriminatorConfig, GeneratorConfig, ModelConfig
from mlcore.errors import MlcoreError
from mlcore.models.layers import activation, dense_block


def _maybe_sn(layer: nn.Module, spectral: bool) -> nn.Module:
    # Spectral norm bounds each layer's Lipschitz constant (Miyato et al., 2018).
    return nn.utils.parametrizations.spectral_norm(layer) if spectral else layer


def mlp_generator(cfg: GeneratorConfig, latent: int, dim: int) -> nn.Sequential:
    """z [B, latent] -> x [B, dim], linear output (the data are standardized)."""
    layers: list[nn.Module] = []
    sizes = [latent, *cfg.hidden]
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += dense_block(n_in, n_out, cfg.activation, cfg.batchnorm, cfg.dropout, True)
    layers.append(nn.Linear(sizes[-1], dim))
    return nn.Sequential(*layers)


def mlp_discriminator(cfg: DiscriminatorConfig, dim: int) -> nn.Sequential:
    """x [B, dim] -> logit [B, 1]."""
    layers: list[nn.Module] = []
    sizes = [dim, *cfg.hidden]
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        block = dense_block(n_in, n_out, cfg.activation, cfg.batchnorm, cfg.dropout, True)
        layers += [_maybe_sn(block[0], cfg.spectral_norm), *block[1:]]
    layers.append(_maybe_sn(nn.Linear(sizes[-1], 1), cfg.spectral_norm))
    return nn.Sequential(*layers)


def _start_size(shape: tuple[int, ...], ups: int) -> tuple[int, int]:
    _, h, w = shape
    if h % 2**ups or w % 2**ups:
        raise MlcoreError(
            f"model.generator.channels: {ups} upsamplings need image sides divisible by "
            f"{2**ups}, but the images are {h}x{w}; use fewer channels entries"
        )
    return h // 2**ups, w // 2**ups


class ConvGenerator(nn.Module):
    """z [B, latent] -> Linear -> [B, C0, h0, w0] -> (ConvT 4x4/2 -> [BN] -> act) per
    entry of `channels` after the first -> ConvT 4x4/2 to the image's channels.

    The output is squashed into the training images' value range [lo, hi] (a sigmoid, as
    DCGAN's tanh does for [-1, 1]): pixels are bounded, and a bounded output trains faster.
    """

    def __init__(self, cfg: GeneratorConfig, latent: int, shape: tuple[int, ...]):
        super().__init__()
        chans = list(cfg.channels)
        self.h0, self.w0 = _start_size(shape, len(chans))
        self.c0 = chans[0]
        n0 = self.c0 * self.h0 * self.w0
        self.project = nn.Sequential(
            *dense_block(latent, n0, cfg.activation, cfg.batchnorm, 0, True)
        )
        ups: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            ups.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=not cfg.batchnorm))
            if cfg.batchnorm:
                ups.append(nn.BatchNorm2d(c_out))
            ups.append(activation(cfg.activation))
        ups.append(nn.ConvTranspose2d(chans[-1], shape[0], 4, 2, 1))
        self.up = nn.Sequential(*ups)
        self.register_buffer("lo", torch.tensor(-1.0))  # set from the data by set_range
        self.register_buffer("hi", torch.tensor(1.0))

    def set_range(self, lo: float, hi: float) -> None:
        self.lo.fill_(lo)
        self.hi.fill_(hi)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(-1, self.c0, self.h0, self.w0)
        return self.lo + (self.hi - self.lo) * torch.sigmoid(self.up(x))  # (B, C, H, W)


def conv_discriminator(cfg: DiscriminatorConfig, shape: tuple[int, ...]) -> nn.Sequential:
    """x [B, C, H, W] -> (Conv 4x4/2 -> [BN, not on the first] -> act) per channels entry
    -> Linear -> logit [B, 1]."""
    c, h, w = shape
    layers: list[nn.Module] = []
    for i, c_out in enumerate(cfg.channels):
        bn = cfg.batchnorm and i > 0  # DCGAN: no batchnorm on the discriminator's input
        layers.append(_maybe_sn(nn.Conv2d(c, c_out, 4, 2, 1, bias=not bn), cfg.spectral_norm))
        if bn:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(activation(cfg.activation))
        if cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        c, h, w = c_out, h // 2, w // 2
    if h < 1 or w < 1:
        raise MlcoreError(
            f"model.discriminator.channels: {len(cfg.channels)} halvings leave nothing of "
            f"{shape[1]}x{shape[2]} images; use fewer channels entries"
        )
    layers += [nn.Flatten(), _maybe_sn(nn.Linear(c * h * w, 1), cfg.spectral_norm)]
    return nn.Sequential(*layers)


class GAN(nn.Module):
    """`forward(z)` generates; the trainer's step drives both networks itself, and wraps
    each for several devices itself (its step calls them apart, not through forward)."""

    wrapped_by_step = True  # device.wrap_model only moves it; GanStep wraps G and D

    def __init__(self, cfg: ModelConfig, shape: tuple[int, ...]):
        super().__init__()
        self.latent_dim, self.pack = int(cfg.latent_dim), int(cfg.pack)
        self.image = len(shape) == 3
        packed = (shape[0] * self.pack, *shape[1:])  # D sees `pack` samples side by side
        if self.image:
            self.generator: nn.Module = ConvGenerator(cfg.generator, self.latent_dim, shape)
            self.discriminator: nn.Module = conv_discriminator(cfg.discriminator, packed)
        elif len(shape) == 1:
            self.generator = mlp_generator(cfg.generator, self.latent_dim, shape[0])
            self.discriminator = mlp_discriminator(cfg.discriminator, packed[0])
        else:
            raise MlcoreError(f"model.name: gan needs vectors or images, got samples {shape}")
        self.ema: nn.Module | None = None
        if cfg.ema is not None:  # a frozen copy, updated by the step, saved with the model
            self.ema = copy.deepcopy(self.generator).requires_grad_(False)

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees: packs of samples, [B, C, ...] -> [B // pack, pack * C, ...] (PacGAN,
        Lin et al., NeurIPS 2018: a pack of collapsed samples looks alike, which D can see
        and one sample cannot show)."""
        if self.pack > 1:
            b = len(x) - len(x) % self.pack
            x = x[:b].reshape(b // self.pack, -1, *x.shape[2:])
        return x

    def judge(self, x: torch.Tensor) -> torch.Tensor:
        """D's logits for packs of samples: [B, ...] -> [B // pack, 1]."""
        return self.discriminator(self.packed(x))

    @property
    def sampler(self) -> nn.Module:
        """The network that evaluation and `mlcore sample` draw from."""
        return self.ema if self.ema is not None else self.generator

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.sampler(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples in eval mode, latents drawn from `generator` (never the global RNG,
        so sampling during training does not change what training draws)."""
        net = self.sampler
        was = net.training
        net.eval()
        device = next(net.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        out = net(z)
        net.train(was)
        return out
