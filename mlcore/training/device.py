"""Where training runs: the device and the multi-device wrapper, decided in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
from torch import nn

from mlcore.config import TrainerConfig
from mlcore.errors import MlcoreError

DDP_TIMEOUT_S = 300
T = TypeVar("T")


@dataclass(frozen=True)
class Placement:
    device: torch.device
    strategy: str  # single | dp | ddp
    world_size: int = 1
    rank: int = 0
    devices: int = 1  # GPUs one process drives (DataParallel)

    @property
    def is_main(self) -> bool:
        """Only rank 0 writes files and prints."""
        return self.rank == 0


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise MlcoreError(
                f"trainer.device: {name!r} asked for, but no CUDA device is available here; "
                "use cpu or auto"
            )
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise MlcoreError(
                f"trainer.device: {name!r}, but only {torch.cuda.device_count()} CUDA "
                "device(s) exist"
            )
    if name == "mps" and not (torch.backends.mps.is_available()):
        raise MlcoreError("trainer.device: 'mps' asked for, but MPS is not available here")
    return torch.device(name)


def place(cfg: TrainerConfig) -> Placement:
    """Resolve device and strategy; validate precision against the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    strategy = cfg.strategy
    if strategy == "auto":
        strategy = "ddp" if world > 1 else "single"
    elif strategy != "ddp" and world > 1:  # else every process trains the whole run alone
        raise MlcoreError(
            f"trainer.strategy: {strategy}, but torchrun started {world} processes; use ddp "
            "(or auto) under torchrun, or run `mlcore train` without it"
        )
    if strategy == "ddp":
        if cfg.devices not in ("auto", world):
            raise MlcoreError(
                f"trainer.devices: {cfg.devices}, but torchrun started {world} process(es); "
                f"launch with `torchrun --nproc-per-node {cfg.devices}` or set devices: auto"
            )
        return _ddp_placement(cfg, world)
    device = resolve_device(cfg.device)
    if strategy == "dp":
        if device.type != "cuda":
            raise MlcoreError("trainer.strategy: dp (DataParallel) needs CUDA devices; use single")
        wanted = torch.cuda.device_count() if cfg.devices == "auto" else cfg.devices
        if wanted > torch.cuda.device_count():
            raise MlcoreError(
                f"trainer.devices: {wanted}, but only {torch.cuda.device_count()} CUDA "
                "device(s) exist"
            )
        return Placement(device, strategy, devices=wanted)
    if cfg.devices not in ("auto", 1):
        raise MlcoreError(
            f"trainer.devices: {cfg.devices} devices need trainer.strategy dp (one process) "
            "or ddp (one process per device); single uses one"
        )
    check_precision(cfg.precision, device)
    return Placement(device, strategy)


def _ddp_placement(cfg: TrainerConfig, world: int) -> Placement:
    if "RANK" not in os.environ:
        raise MlcoreError(
            "trainer.strategy: ddp needs its processes started: `mlcore train` starts them "
            "itself; from Python, or on several machines, use torchrun, e.g. "
            "`torchrun --nproc-per-node 2 -m mlcore train CONFIG`"
        )
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if cfg.device in ("auto", "cuda") and torch.cuda.is_available():
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = resolve_device("cpu" if cfg.device == "auto" else cfg.device)
    check_precision(cfg.precision, device)
    if not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        # A rank that hangs (or never arrives) fails the others after this long instead of
        # the backend's default (30 min for gloo, 10 for nccl); one that dies fails them at
        # once (its connections close).
        torch.distributed.init_process_group(backend, timeout=timedelta(seconds=DDP_TIMEOUT_S))
    return Placement(device, "ddp", world, rank)


def check_precision(precision: str, device: torch.device) -> None:
    if precision == "amp" and device.type != "cuda":
        raise MlcoreError(
            f"trainer.precision: amp (fp16 autocast + loss scaling) needs CUDA; on "
            f"{device.type} use fp32 or bf16"
        )


def wrap_model(model: nn.Module, placement: Placement) -> nn.Module:
    """Move to the device and apply the data-parallel wrapper. A model whose step calls
    its networks apart (a GAN's generator and discriminator) is only moved: its step wraps
    each network with `parallel`."""
    model = model.to(placement.device)
    if getattr(model, "wrapped_by_step", False):
        return model
    return parallel(model, placement)


def parallel(net: nn.Module, placement: Placement) -> nn.Module:
    """The data-parallel wrapper of one network on its device, the one place that makes it."""
    if placement.strategy == "dp" and placement.devices > 1:
        # DataParallel scatters each batch over the GPUs and gathers outputs on the first
        # (the seed note's "uneven GPU memory": the first GPU also holds the outputs and loss)
        return nn.DataParallel(net, device_ids=list(range(placement.devices)))
    if placement.strategy == "ddp":
        ids = [placement.device.index] if placement.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(RankFlags(net), device_ids=ids)
    return net


class RankFlags(nn.Module):
    """What DDP wraps: the model, plus a parameter that is never trained and whose gradient
    carries this rank's flags ([its loss was NaN/inf, a stop was requested], as 0/1) through
    DDP's own gradient all-reduce. After backward every rank holds the mean of all ranks'
    flags, so all decide alike after the same step, with no collective (and no host sync)
    of their own: the step adds `(flags * mine).sum()` to its loss."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        device = next(model.parameters()).device
        self.flags = nn.Parameter(torch.zeros(2, device=device))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside a DP/DDP wrapper, whose state_dict keys have no `module.`."""
    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model.model if isinstance(model, RankFlags) else model


def rank_flags(model: nn.Module) -> nn.Parameter | None:
    """The flags parameter of a DDP-wrapped model; None otherwise."""
    inner = getattr(model, "module", None)
    return inner.flags if isinstance(inner, RankFlags) else None


def from_rank0(value: T) -> T:
    """Under DDP: rank 0's `value` (any picklable object), on every rank; the others pass
    theirs (or None) and get rank 0's. For what every rank must decide alike: a rank's
    train/* means cover its own shard, and one that stopped early (or lowered its learning
    rate) on its own would leave the others waiting in the next all-reduce; rank 0's are
    the ones metrics.csv shows. Also rank 0's run directory, and a GAN's judged report."""
    box = [value]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]
