"""Trace two iterations of mlcore's own training step on fake tensors.

Fake tensors (FakeTensorMode) carry shapes, dtypes and storages but no data, so a ViT-sized
batch costs no real memory and runs in seconds on a CPU. Two iterations, because optimizer
state appears at the first `step()`. Everything a training step on the device holds is
there: the data splits the loader keeps on the device, the batch it gathers, the model,
`SupervisedStep` itself (autocast, GradScaler, L1/L2 penalty, clipping, step, zero_grad).

Where a GPU does different work from the CPU the trace follows the GPU: optimizers run
their `foreach` implementation (PyTorch's default on CUDA, one more parameter-sized
temporary during `step()`), and Adam's step counters live on the host. Autograd cannot run
backward on fake *CUDA* tensors without a GPU (pytorch#92627), so the fake tensors are CPU
tensors and autocast is CPU autocast with the same dtype; the allocator model
(allocator.py) then turns the storages into what CUDA reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from dataclasses import dataclass, field

import torch
from torch import nn

from mlcore.config import Config
from mlcore.evaluation.tasks import make_task
from mlcore.memory.tracker import BLAS_OPS, Event, FakeItemMode, TimelineTracker
from mlcore.models import build_model
from mlcore.optim import build_optimizer
from mlcore.training.step import SupervisedStep


@dataclass(frozen=True)
class DataSpec:
    """What the trace needs to know about the data, without holding any of it."""

    task: str
    input_shape: tuple[int, ...]
    n_out: int  # model outputs per sample (per pixel for segmentation)
    num_classes: int | None
    target_dim: int
    target_shape: tuple[int, ...]  # one sample's label: () class, (H, W) mask, (D,) values
    target_dtype: torch.dtype
    resident: dict[str, int]  # split -> samples the loader keeps on the device (0: lazy)
    sizes: dict[str, int] = field(default_factory=dict)  # split -> samples, held or not
    model_task: str = ""  # the task the model is built for ("generation" for a GAN)

    def __post_init__(self) -> None:
        if not self.model_task:
            object.__setattr__(self, "model_task", self.task)


@dataclass
class Trace:
    events: list[Event]
    ops: set[str]  # ops of the forward pass and the optimizer step
    backward_ops: set[str] = field(default_factory=set)
    host_keys: set[int] = field(default_factory=set)  # storages a GPU keeps on the host
    parameters: int = 0  # number of parameters
    param_sizes: list[int] = field(default_factory=list)  # bytes of each parameter, in order
    starts: list[int] = field(default_factory=list)  # index of each iteration's first event

    @property
    def blas_threads(self) -> int:
        """Threads that call cuBLAS: the forward's and autograd's backward thread; each
        gets its own cuBLAS handle and so its own workspace on a GPU."""
        phases = (self.ops, self.backward_ops)
        return sum(any(op.startswith(BLAS_OPS) for op in ops) for ops in phases)


def step_precision(precision: str) -> str:
    """The trainer's precision for a gpu-mem precision: fp16 is a half model in fp32 mode."""
    return "fp32" if precision == "fp16" else precision


def trace_step(
    cfg: Config,
    spec: DataSpec,
    batch_size: int,
    precision: str = "fp32",
    *,
    fake: bool = True,
    with_optimizer: bool = True,
    resident: bool = True,
    steps: int = 2,
    device: str = "cpu",
) -> Trace:
    """The storage timeline of `steps` training iterations at `batch_size`.

    fake=False runs the same steps on real tensors on `device` (the tests' and the
    benchmark's reference: real CPU live bytes, real CUDA allocator statistics).
    with_optimizer=False: forward and backward only (a DataParallel replica).
    resident=False: the batch alone, no data splits held on the device.
    """
    mode = _fake_mode() if fake else contextlib.nullcontext()
    dtype = torch.float16 if precision == "fp16" else torch.float32
    items = FakeItemMode() if fake else contextlib.nullcontext()
    where = torch.device("cpu" if fake else device)
    model = _build_model(cfg, spec, dtype, mode, items, where)
    with mode, items, where:
        step = _step(cfg, spec, model, where, precision)
        for optimizer in step.optimizers:  # as on CUDA: see the module docstring
            for group in optimizer.param_groups:
                group["foreach"] = True
        data = _data_tensors(spec, batch_size, dtype) if resident else {}
    tracker, starts = TimelineTracker(), []
    tracker.watch(model)
    for tensor in data.values():
        tracker.tag(tensor, "inputs")
    with mode, tracker:
        for _ in range(steps):
            starts.append(len(tracker.events))
            # the trainer's loop: the previous batch lives until the next one is gathered
            batch = _batch(spec, data, batch_size, dtype, tracker.tag)
            _one_iteration(step, model, batch, with_optimizer)
    trace = _finish(tracker, model, step.optimizers)
    trace.starts = starts
    if fake:  # FakeTensorMode caches dispatch results on its class: release them now
        getattr(type(mode), "cache_clear", lambda: None)()
    return trace


def _one_iteration(
    step,  # SupervisedStep or GanStep: step(x, y)
    model: nn.Module,
    batch: tuple[torch.Tensor, torch.Tensor],
    with_optimizer: bool,
) -> None:
    x, y = batch
    if with_optimizer:
        step(x, y)
        return
    model.zero_grad(set_to_none=True)
    step.loss_fn(model(x), y).backward()


def _batch(
    spec: DataSpec, data: dict[str, torch.Tensor], batch_size: int, dtype: torch.dtype, tag
) -> tuple[torch.Tensor, torch.Tensor]:
    """As BatchLoader gives it: gathered by indexing the split it holds on the device, or,
    for a split it does not hold (image folders, DataParallel replicas), a fresh batch."""
    if "x" in data:
        idx = data["order"][:batch_size]
        x, y = data["x"][idx], data["y"][idx]
    else:
        x = torch.zeros(batch_size, *spec.input_shape, dtype=dtype)
        y = torch.zeros(batch_size, *spec.target_shape, dtype=spec.target_dtype)
    tag(x, "inputs")
    tag(y, "inputs")
    return x, y


def _data_tensors(spec: DataSpec, batch_size: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The splits the loader moves to the device once, and the epoch's sample order on the
    device. A batch never exceeds the training split (report.py caps it); a larger one here
    is a direct call, given rows enough to gather it."""
    data = {}
    for split in ("train", "val", "test"):
        n = spec.resident.get(split, 0)
        if n:
            rows = max(n, batch_size) if split == "train" else n
            prefix = "" if split == "train" else f"{split}_"
            data[f"{prefix}x"] = torch.zeros(rows, *spec.input_shape, dtype=dtype)
            data[f"{prefix}y"] = torch.zeros(rows, *spec.target_shape, dtype=spec.target_dtype)
            if split == "train":
                data["order"] = torch.zeros(rows, dtype=torch.int64)
    return data  # zeros: class 0 is a valid label, and a real (test) run stays finite


def _build_model(cfg: Config, spec: DataSpec, dtype: torch.dtype, mode, items, where) -> nn.Module:
    """The model, its weights fake tensors (or real ones on `where` for a real run), built
    under the fake mode, where initializers run as they do for real.

    A GAN's weight average is a deep copy of its generator, which fake tensors cannot
    follow (the copy gets a fake mode of its own): it is built as a second generator of the
    same shape instead, which holds the same memory."""
    shape, n_out, task = spec.input_shape, spec.n_out, spec.model_task
    ema = cfg.model.name == "gan" and cfg.model.ema is not None
    plain = dataclasses.replace(cfg.model, ema=None) if ema else cfg.model
    with _quiet_fake_tensor_log(), mode, items, where, _default_dtype(dtype):
        torch.manual_seed(0)
        model = build_model(plain, shape, n_out, task)
        if ema:
            model.ema = build_model(plain, shape, n_out, task).generator.requires_grad_(False)
    return model


@contextlib.contextmanager
def _quiet_fake_tensor_log():
    """FakeTensorMode logs a traceback for every meta kernel that raises, even when the
    error is then handled (an input too small for a torchvision arch): the user gets the
    one-line error instead."""
    log = logging.getLogger("torch._subclasses.fake_tensor")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _step(cfg: Config, spec: DataSpec, model: nn.Module, device: torch.device, precision: str):
    """The trainer's own step for this config: a GAN's (two optimizers, alternating
    phases), else SupervisedStep with the task's loss."""
    if cfg.model.name == "gan":
        from mlcore.training.device import Placement
        from mlcore.training.gan_parts import build_gan_step

        # the placement's device type is autocast's: without it a GAN's real steps on CUDA
        # would run under CPU autocast, that is in fp32
        placement = Placement(device, "single")
        return build_gan_step(cfg, model, placement, step_precision(precision))[0]
    task = make_task(spec.task, spec.num_classes, spec.target_dim, cfg.eval)
    optimizer = build_optimizer(cfg.optimizer, model.parameters())
    return SupervisedStep(
        model, task.loss, optimizer, cfg.regularization, device, step_precision(precision)
    )


def _finish(
    tracker: TimelineTracker, model: nn.Module, optimizers: list[torch.optim.Optimizer]
) -> Trace:
    host = set()
    states = [state for optimizer in optimizers for state in optimizer.state.values()]
    for state in states:
        step_count = state.get("step")
        if isinstance(step_count, torch.Tensor) and step_count.numel() == 1:
            key = tracker.key_of(step_count)  # a CPU scalar on CUDA unless capturable/fused
            if key is not None:
                host.add(key)
    params = list(model.parameters())
    return Trace(
        events=list(tracker.events),  # not the frees when this trace's tensors die later
        ops=tracker.ops,
        backward_ops=tracker.backward_ops,
        host_keys=host,
        parameters=sum(p.numel() for p in params),
        param_sizes=[p.numel() * p.element_size() for p in params if p.requires_grad],
    )


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def _fake_mode():
    from torch._subclasses.fake_tensor import FakeTensorMode

    return FakeTensorMode()
