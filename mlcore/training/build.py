"""Build everything a run needs from a validated config, before the trainer sees it:
data, task, model, the training step with its optimizers, scheduler, loaders, device.
Every cross-key mistake the config alone cannot catch (a cnn on tabular data, a monitor
the task does not log, amp on a CPU) surfaces here, before any run directory exists."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlcore.config import Config
from mlcore.data import DataBundle, build_data, make_loader
from mlcore.errors import MlcoreError
from mlcore.evaluation.tasks import GenerationTask, Task, make_task, monitor_names
from mlcore.models import build_model, smallest_batch
from mlcore.optim import Schedule, Schedules, build_optimizer, build_schedules
from mlcore.training.device import Placement, place, unwrap, wrap_model
from mlcore.training.gan_parts import (
    build_gan_step,
    check_gan,
    fit_output_range,
    generation_task,
)
from mlcore.training.step import SupervisedStep
from mlcore.training.threads import apply_threads


@dataclass
class Parts:
    config: Config
    data: DataBundle
    task: Task | GenerationTask
    model: nn.Module  # on its device, wrapped for dp/ddp
    optimizer: torch.optim.Optimizer  # the model's (a GAN: the generator's)
    schedule: Schedule | Schedules
    loaders: dict[str, Any]  # train / val / test BatchLoaders
    placement: Placement
    step: Any  # SupervisedStep or GanStep: step(x, y) -> {column: float}


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS needs a fixed workspace for deterministic matmuls; set before CUDA starts.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def build_task(cfg: Config, data: DataBundle, cache: Path | None = None) -> Task | GenerationTask:
    task = generation_task(cfg, data, cache) if cfg.model.name == "gan" else _task(cfg, data)
    valid = monitor_names(task.name)
    for key, monitor in (
        ("early_stopping", cfg.trainer.early_stopping.monitor),
        ("checkpoint", cfg.trainer.checkpoint.monitor),
    ):
        if monitor not in valid:
            raise MlcoreError(
                f"trainer.{key}.monitor: {monitor!r} is not logged for {task.name}; "
                f"valid: {', '.join(valid)}"
            )
    return task


def _task(cfg: Config, data: DataBundle) -> Task:
    if data.task not in ("classification", "regression", "segmentation"):
        raise MlcoreError(
            f"data.name: {cfg.data.name} is a {data.task} dataset: train it with model.name "
            "gan, or use a classification, regression or segmentation dataset"
        )
    task = make_task(
        data.task,
        data.num_classes,
        data.target_dim,
        cfg.eval,
        data.class_names,
        data.target_stats,
        cfg.data.standardize_target,
    )
    pos = cfg.eval.positive_class
    if pos is not None and not (
        task.name == "classification" and task.n_out == 2 and pos in (0, 1)
    ):
        classes = f"{task.n_out} classes" if task.name == "classification" else task.name
        raise MlcoreError(
            f"eval.positive_class: {pos} is not allowed here ({classes}); it names the "
            "positive class of two-class data: 0 or 1, or null"
        )
    return task


# The smallest default evaluation batch: inference keeps no activations for backward, so a
# larger batch costs little memory and pays the per-batch overhead (one Python call per
# layer, the accumulator's update) fewer times.
EVAL_BATCH_SIZE = 256


def eval_batch_size(cfg: Config) -> int:
    """data.eval_batch_size, or max(data.batch_size, 256) when it is null. In eval() mode a
    sample's output does not depend on its batch (batchnorm uses running statistics), so
    only the float summation order of the mean loss can differ."""
    if cfg.data.eval_batch_size is not None:
        return cfg.data.eval_batch_size
    return max(cfg.data.batch_size, EVAL_BATCH_SIZE)


def _loader(cfg: Config, data: DataBundle, name: str, placement: Placement, least: int = 2) -> Any:
    """Training batches are shuffled and equal across ranks (DDP steps in lockstep); a final
    batch smaller than the model takes is dropped: one sample (batchnorm cannot normalize
    it), or less than a GAN's packs. Evaluation batches are in order, of eval_batch_size,
    and disjoint across ranks: no sample counted twice."""
    train = name == "train"
    split = getattr(data, name)
    n = len(split) // placement.world_size
    rest = n % cfg.data.batch_size
    return make_loader(
        split,
        cfg.data.batch_size if train else eval_batch_size(cfg),
        shuffle=train,
        seed=cfg.run.seed,
        device=placement.device,
        num_workers=cfg.data.num_workers,
        rank=placement.rank,
        world_size=placement.world_size,
        even=train,
        drop_last=train and 1 <= rest < max(least, 2),
    )


def data_fingerprint(data: DataBundle) -> str:
    """A hash of every split's exact samples, saved with each checkpoint so that `eval`
    can tell when the files under a run's data changed since it trained."""
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    for name in ("train", "val", "test"):
        split = getattr(data, name)
        digest.update(f"{name}:{len(split)};".encode())
        for tensor in (getattr(split, "x", None), getattr(split, "y", None)):
            if tensor is not None:  # lazy (image folder) splits are known by size alone
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def build_step(cfg: Config, model: nn.Module, task: Any, placement: Placement) -> Any:
    """The training step: a GAN's (two optimizers) or the supervised one. Returns the step
    and the optimizer that the scheduler drives and `lr` reports."""
    if cfg.model.name == "gan":
        return build_gan_step(cfg, model, placement)  # the bare GAN: its step wraps G, D
    optimizer = build_optimizer(cfg.optimizer, unwrap(model).parameters())  # not RankFlags
    step = SupervisedStep(
        model,
        task.loss,
        optimizer,
        cfg.regularization,
        placement.device,
        cfg.trainer.precision,
        distributed=placement.strategy == "ddp",
    )
    return step, optimizer


def build_parts(
    cfg: Config,
    stats: dict | None = None,
    cache: Path | None = None,
    preprocessing: dict | None = None,
    target_stats: dict | None = None,
) -> Parts:
    """Everything for training or evaluating `cfg`; `stats`, `preprocessing` and
    `target_stats` reuse saved normalization, feature encoding and a regression target's
    statistics, `cache` is a run directory whose saved judge a GAN reuses."""
    apply_threads(cfg.trainer.threads)
    check_gan(cfg)
    placement = place(cfg.trainer)
    seed_everything(cfg.run.seed, cfg.trainer.deterministic)
    data = build_data(
        cfg.data,
        seed=cfg.run.seed,
        stats=stats,
        preprocessing=preprocessing,
        target_stats=target_stats,
    )
    task = build_task(cfg, data, cache)
    if len(data.val) == 0 or len(data.train) == 0:
        empty = "train" if len(data.train) == 0 else "val"
        raise MlcoreError(
            f"data.split.{empty}: the {empty} split is empty ({data.info.get('sizes')}); use "
            f"more data or a larger data.split.{empty}"
        )
    data.info["fingerprint"] = data_fingerprint(data)
    torch.manual_seed(cfg.run.seed)  # the same initial weights whatever data loading drew
    model = build_model(cfg.model, data.input_shape, task.n_out, task.name)
    least, why = smallest_batch(cfg.model, model)
    if cfg.data.batch_size < least:
        raise MlcoreError(
            f"data.batch_size: {cfg.data.batch_size} is too small for this model ({why}); "
            f"use {least} or more"
        )
    fit_output_range(model, data)  # an image GAN's generator: the pixels' range
    model = wrap_model(model, placement)
    step, optimizer = build_step(cfg, model, task, placement)
    loaders = {
        name: _loader(cfg, data, name, placement, least) for name in ("train", "val", "test")
    }
    schedule = build_schedules(
        cfg.scheduler,
        step.optimizers,  # a GAN's two: the schedule moves both learning rates
        cfg.trainer.epochs,
        len(loaders["train"]),
        cfg.trainer.checkpoint.mode,
        cfg.optimizer.lr,
    )
    return Parts(cfg, data, task, model, optimizer, schedule, loaders, placement, step)
