"""The GAN's parts for build_parts: what it refuses, its task (judge and sample plots), its
step with two optimizers, and its image generator's output range."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlcore.config import Config, OptimizerConfig
from mlcore.data import DataBundle, TensorSplit
from mlcore.errors import MlcoreError
from mlcore.evaluation.tasks import GenerationTask
from mlcore.optim import build_optimizer
from mlcore.training.device import Placement
from mlcore.training.gan_step import GanStep


def check_gan(cfg: Config) -> None:
    """What a GAN run cannot do: one line naming the key. Needs the config alone, so that
    a DDP launch refuses it once, before any rank starts."""
    if cfg.model.name != "gan":
        return
    if cfg.trainer.strategy == "dp":
        raise MlcoreError(
            "trainer.strategy: a gan trains on one device or under ddp (one process per "
            "device); dp is not supported for it (use ddp)"
        )


def generation_task(cfg: Config, data: DataBundle, cache_dir: Path | None) -> GenerationTask:
    """A mixture's known centres judge 2-D samples; a classifier judges labelled images."""
    from mlcore.evaluation import judges
    from mlcore.plots.samples import plot_grid, plot_scatter

    if data.task == "generation" and "centres" in data.info:
        real = judges.denormalize(data.train.x, data.stats)
        centres = torch.tensor(data.info["centres"])

        def plot(x: torch.Tensor, path: Path, title: str) -> None:
            raw = judges.denormalize(x, data.stats)
            plot_scatter(raw, real, centres, path, f"{cfg.run.name}: samples, {title}")

        def judge() -> Any:
            return judges.MixtureJudge(data, cfg.eval)
    elif data.task == "classification" and isinstance(data.train, TensorSplit):
        if len(data.input_shape) != 3:
            raise MlcoreError(
                f"model.name: a gan needs a generation dataset (gaussian_ring, gaussian_grid) "
                f"or labelled images (digits, mnist, fashion_mnist, cifar10); {cfg.data.name} "
                f"is labelled data of shape {tuple(data.input_shape)}, not images"
            )

        def plot(x: torch.Tensor, path: Path, title: str) -> None:
            plot_grid(judges.denormalize(x, data.stats), path, f"{cfg.run.name}: {title}")

        def judge() -> Any:
            return judges.ClassifierJudge(data, cfg.eval, cache_dir)
    else:
        raise MlcoreError(
            f"model.name: a gan needs a generation dataset (gaussian_ring, gaussian_grid) or "
            f"labelled images held in memory (digits, mnist, fashion_mnist, cifar10); "
            f"{cfg.data.name} is {data.task} data"
        )
    every = cfg.trainer.sample_every
    return GenerationTask(cache(judge), cfg.eval, cfg.run.seed + 1, every, plot)


def fit_output_range(model: nn.Module, data: DataBundle) -> None:
    """An image generator's output spans the training images' range (normalized units)."""
    gen = getattr(model, "generator", None)
    if hasattr(gen, "set_range"):
        x = data.train.x
        gen.set_range(float(x.min()), float(x.max()))
        if getattr(model, "ema", None) is not None:
            model.ema.set_range(float(x.min()), float(x.max()))


def build_gan_step(
    cfg: Config, model: nn.Module, placement: Placement | None = None, precision: str = ""
) -> tuple[GanStep, torch.optim.Optimizer]:
    """The step and the optimizer the scheduler and `lr` follow (the generator's); the
    step wraps G and D for the placement's devices (none given: one CPU) and trains in
    `precision` (default: trainer.precision)."""
    d_cfg = cfg.discriminator_optimizer or OptimizerConfig()
    g_opt = build_optimizer(cfg.optimizer, model.generator.parameters())
    d_opt = build_optimizer(d_cfg, model.discriminator.parameters())
    m, clip = cfg.model, cfg.regularization.grad_clip
    precision = precision or cfg.trainer.precision
    step = GanStep(model, g_opt, d_opt, m.loss, m.d_steps, m.ema, clip, placement, precision)
    return step, g_opt
