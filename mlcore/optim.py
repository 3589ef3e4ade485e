"""Optimizers and learning-rate schedulers by name, built from the config.

SGD steps against the gradient; momentum keeps a running velocity (Polyak, 1964); RMSprop
divides by a running RMS of the gradient (Hinton, 2012); Adam does both with bias
correction (Kingma & Ba, 2015); AdamW decouples weight decay from the gradient
(Loshchilov & Hutter, 2019). `optimizer.weight_decay` is PyTorch's own in every case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

import torch
from torch.optim import lr_scheduler

from mlcore.config import OptimizerConfig, SchedulerConfig

Params = Iterable[torch.nn.Parameter]


def _sgd(cfg: OptimizerConfig, params: Params) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params,
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
        weight_decay=cfg.weight_decay,
    )


def _rmsprop(cfg: OptimizerConfig, params: Params) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(
        params,
        lr=cfg.lr,
        alpha=cfg.alpha,
        eps=cfg.eps,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
    )


def _adam(cfg: OptimizerConfig, params: Params) -> torch.optim.Optimizer:
    return torch.optim.Adam(
        params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay
    )


def _adamw(cfg: OptimizerConfig, params: Params) -> torch.optim.Optimizer:
    return torch.optim.AdamW(
        params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay
    )


OPTIMIZERS: dict[str, Callable[[OptimizerConfig, Params], torch.optim.Optimizer]] = {
    "sgd": _sgd,
    "rmsprop": _rmsprop,
    "adam": _adam,
    "adamw": _adamw,
}


def build_optimizer(cfg: OptimizerConfig, params: Params) -> torch.optim.Optimizer:
    return OPTIMIZERS[cfg.name](cfg, params)


class Schedule:
    """A scheduler and when it steps: after every batch (onecycle) or every epoch."""

    def __init__(
        self,
        scheduler: lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau | None,
        per_batch: bool,
    ):
        self.scheduler = scheduler
        self.per_batch = per_batch

    def after_batch(self) -> None:
        if self.scheduler is not None and self.per_batch:
            self.scheduler.step()

    def after_epoch(self, monitored: float) -> None:
        if self.scheduler is None or self.per_batch:
            return
        if isinstance(self.scheduler, lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(monitored)
        else:
            self.scheduler.step()

    def state_dict(self) -> dict:
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state)


class Schedules:
    """The schedules of several optimizers, stepped together (a GAN's generator and
    discriminator: one schedule moves both learning rates, each from its own)."""

    def __init__(self, schedules: list[Schedule]):
        self.schedules = schedules

    def after_batch(self) -> None:
        for schedule in self.schedules:
            schedule.after_batch()

    def after_epoch(self, monitored: float) -> None:
        for schedule in self.schedules:
            schedule.after_epoch(monitored)

    def state_dict(self) -> dict:
        return {"each": [schedule.state_dict() for schedule in self.schedules]}

    def load_state_dict(self, state: dict) -> None:
        for schedule, each in zip(self.schedules, state["each"], strict=True):
            schedule.load_state_dict(each)


def build_schedules(
    cfg: SchedulerConfig,
    optimizers: list[torch.optim.Optimizer],
    epochs: int,
    steps_per_epoch: int,
    mode: str,
    base_lr: float,
) -> Schedule | Schedules:
    """One optimizer's schedule, or several optimizers' (the first's `lr` is `base_lr`;
    onecycle's default peak is 10x each one's own lr, and a `max_lr` given scales with
    each one's lr as the first's does)."""
    if len(optimizers) == 1:
        return build_scheduler(cfg, optimizers[0], epochs, steps_per_epoch, mode, base_lr)
    each = []
    for opt in optimizers:
        lr = opt.param_groups[0]["lr"]
        scaled = replace(cfg, max_lr=cfg.max_lr * lr / base_lr) if cfg.max_lr else cfg
        each.append(build_scheduler(scaled, opt, epochs, steps_per_epoch, mode, lr))
    return Schedules(each)


def build_scheduler(
    cfg: SchedulerConfig,
    opt: torch.optim.Optimizer,
    epochs: int,
    steps_per_epoch: int,
    mode: str,
    base_lr: float,
) -> Schedule:
    """`mode` is the checkpoint monitor's (min/max), which plateau watches."""
    if cfg.name == "step":
        return Schedule(lr_scheduler.StepLR(opt, cfg.step_size, cfg.gamma), per_batch=False)
    if cfg.name == "cosine":
        sched = lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=cfg.min_lr)
        return Schedule(sched, per_batch=False)
    if cfg.name == "plateau":
        sched = lr_scheduler.ReduceLROnPlateau(
            opt, mode=mode, factor=cfg.factor, patience=cfg.patience, min_lr=cfg.min_lr
        )
        return Schedule(sched, per_batch=False)
    if cfg.name == "onecycle":
        max_lr = cfg.max_lr if cfg.max_lr is not None else 10 * base_lr
        sched = lr_scheduler.OneCycleLR(
            opt, max_lr=max_lr, epochs=epochs, steps_per_epoch=max(1, steps_per_epoch)
        )
        return Schedule(sched, per_batch=True)
    return Schedule(None, per_batch=False)
