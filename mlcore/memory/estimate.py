"""gpu-mem: the training memory of a config, per device, from a trace of its real step.

trace (trace.py) -> per-device timeline (this file: DDP buckets, DataParallel's gather,
cuBLAS workspace) -> allocator replay (replay.py) -> allocated, reserved, + CUDA context.
Where tracing fails, formulas (formulas.py) give an approximate figure, marked as such.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from typing import Any

from mlcore.config import Config
from mlcore.errors import MlcoreError
from mlcore.memory.formulas import formula_trace
from mlcore.memory.replay import Peak, replay
from mlcore.memory.sizes import MIB
from mlcore.memory.trace import DataSpec, Trace, trace_step
from mlcore.memory.tracker import CATEGORIES, TRACKER_ERROR, Event

DDP_FIRST_BUCKET = 1 * MIB  # torch.distributed._DEFAULT_FIRST_BUCKET_BYTES
DDP_BUCKET = 25 * MIB  # DistributedDataParallel(bucket_cap_mb=25)


@dataclass(frozen=True)
class Request:
    batch_size: int  # per device (per rank under ddp; the whole batch under dp)
    precision: str  # fp32 | fp16 | bf16 | amp
    strategy: str  # single | dp | ddp
    devices: int
    context_bytes: int
    deterministic: bool

    @property
    def per_device_batch(self) -> int:
        """What one device computes on: DataParallel splits the batch, ddp ranks each
        take a whole one."""
        return self.batch_size // self.devices if self.strategy == "dp" else self.batch_size


CUBLASLT_WORKSPACE = 1 * MIB  # CUBLASLT_WORKSPACE_SIZE default (KiB): linear with a bias


def cublas_workspace(deterministic: bool) -> int:
    """Bytes of one cuBLAS workspace, which PyTorch allocates through the caching allocator
    for each (thread, stream) that calls cuBLAS, and keeps. mlcore sets
    CUBLAS_WORKSPACE_CONFIG=:4096:8 for deterministic runs (8 x 4 MiB = 32 MiB, also
    PyTorch's default from Hopper on); otherwise PyTorch's older default ':4096:2:16:8'."""
    config = os.environ.get("CUBLAS_WORKSPACE_CONFIG") or (":4096:8" if deterministic else "")
    if not config:
        return (4096 * 2 + 16 * 8) * 1024
    sizes = [int(v) for v in config.strip(":").split(":") if v.isdigit()]
    return sum(sizes[i] * 1024 * sizes[i + 1] for i in range(0, len(sizes) - 1, 2))


def workspace_events(trace: Trace, deterministic: bool) -> list[Event]:
    """The cuBLAS workspaces a step holds, kept for the whole run from the first matmul on:
    one for the forward's thread and one for autograd's backward thread where each
    multiplies matrices, plus cuBLASLt's (measured on an H200, torch 2.11: 65 MiB for an
    MLP = 2 x 32 + 1)."""
    if not trace.blas_threads:
        return []
    size = cublas_workspace(deterministic)
    events = [Event("alloc", -200 - i, size, "workspace") for i in range(trace.blas_threads)]
    return [*events, Event("alloc", -210, CUBLASLT_WORKSPACE, "workspace")]


def workspaces(trace: Trace, deterministic: bool) -> int:
    """Bytes of those workspaces."""
    return sum(e.nbytes for e in workspace_events(trace, deterministic))


def device_traces(
    cfg: Config, spec: DataSpec, req: Request
) -> tuple[list[tuple[str, Trace, list[Event]]], list[str]]:
    """(device name, trace, extra events) per distinct device, and notes on the method."""
    notes: list[str] = []
    per_device = max(req.per_device_batch, 1)
    main = _trace(cfg, spec, per_device, req.precision, notes)
    if req.strategy == "single":
        return [("cuda:0", main, [])], notes
    if req.strategy == "ddp":
        notes.append("ddp: every rank holds the same; plus DDP's gradient buckets")
        return [("each rank", main, _ddp_buckets(main))], notes
    notes.append(
        "dp: device 0 holds the optimizer, the gradients, the whole batch and the gathered "
        "outputs; the others a replica and their slice (modelled, approximate)"
    )
    replica = _trace(cfg, spec, per_device, req.precision, notes, replica=True)
    gathered = _dp_gather(spec, req)
    others = [(f"cuda:1..{req.devices - 1}", replica, [])] if req.devices > 1 else []
    return [("cuda:0", main, gathered), *others], notes


def _trace(
    cfg: Config, spec: DataSpec, batch: int, precision: str, notes: list[str], replica=False
) -> Trace:
    if TRACKER_ERROR is not None:
        _note(notes, f"approximate: {TRACKER_ERROR}; figures from formulas")
        return formula_trace(cfg, spec, batch, precision, replica)
    try:
        return trace_step(
            cfg, spec, batch, precision, with_optimizer=not replica, resident=not replica
        )
    except MlcoreError:  # a config mistake (a cnn on tabular data...) is the user's to fix
        raise
    except Exception as err:  # an op the fake trace cannot follow: say which, use formulas
        _note(notes, f"approximate: tracing stopped at {type(err).__name__}: {err}")
        return formula_trace(cfg, spec, batch, precision, replica)


def _note(notes: list[str], line: str) -> None:
    if line not in notes:
        notes.append(line)


def _ddp_buckets(trace: Trace) -> list[Event]:
    """DDP copies gradients into flat buckets (reverse parameter order; the first bucket
    1 MiB, then 25 MiB), one more gradient-sized allocation for the whole run unless
    gradient_as_bucket_view=True (which mlcore does not set)."""
    events, current, cap, key = [], 0, DDP_FIRST_BUCKET, -1
    for size in reversed(trace.param_sizes):
        if current and current + size > cap:
            events.append(Event("alloc", key, current, "gradients"))
            key, current, cap = key - 1, 0, DDP_BUCKET
        current += size
    if current:
        events.append(Event("alloc", key, current, "gradients"))
    return events


def _dp_gather(spec: DataSpec, req: Request) -> list[Event]:
    """Device 0 under DataParallel: the rest of the batch before scatter, and the outputs
    of every replica gathered for the loss (and their gradient in backward)."""
    elem = 2 if req.precision == "fp16" else 4
    rest = req.batch_size - req.per_device_batch
    sample = elem * math.prod(spec.input_shape)
    outputs = req.batch_size * spec.n_out * math.prod(spec.target_shape) * 4
    return [
        Event("alloc", -100, rest * sample, "inputs"),
        Event("alloc", -101, outputs, "activations"),
        Event("alloc", -102, outputs, "other"),
    ]


# Measured on an H200 (docs/gpu-memory.md): cuDNN picks convolution algorithms by the
# memory free at the time, and their workspaces are not tensors the trace can see.
CUDNN_NOTE = (
    "convolutions: cuDNN also takes workspace from the GPU's free memory when it can (on an "
    "empty GPU, the digits CNN at batch 1024 in fp32 peaked at 3x this figure; under a cap "
    "at this figure it ran): expect more on an empty GPU, about this on a full one"
)


def _note_first_iteration(notes: list[str], trace: Trace, peak: Peak) -> None:
    """Say so when the peak comes before the optimizer's state exists: the breakdown then
    shows none of it, though every later step holds it."""
    if len(trace.starts) < 2 or peak.final is None:
        return
    held = peak.final.get("optimizer_states", 0)
    if peak.index < trace.starts[1] and held > peak.breakdown["optimizer_states"]:
        from mlcore.memory.sizes import human

        notes.append(
            "the allocator's peak comes in the first step, before the optimizer has state "
            f"(fresh segments split less tightly); every later step also holds {human(held)} "
            "of optimizer state, at a slightly lower peak"
        )


def device_peak(trace: Trace, extra: list[Event], req: Request) -> Peak:
    """Replay one device: extra persistent allocations first, then the traced steps, with
    the cuBLAS workspace from the first matmul on."""
    head = [*extra, *workspace_events(trace, req.deterministic)]
    peak = replay(head + trace.events, trace.host_keys)
    return replace(peak, index=peak.index - len(head))  # an index into trace.events


def estimate(cfg: Config, spec: DataSpec, req: Request) -> dict[str, Any]:
    """The DESIGN.md gpu-mem report for one batch size (max_batch_size filled later)."""
    devices, notes = device_traces(cfg, spec, req)
    rows = []
    for name, trace, extra in devices:
        peak = device_peak(trace, extra, req)
        if name == devices[0][0]:
            _note_first_iteration(notes, trace, peak)
        row = {"device": name, **{c: peak.breakdown.get(c, 0) for c in CATEGORIES}}
        row["other"] += peak.breakdown["workspace"]  # DESIGN.md: categories sum to allocated
        row.update(
            workspace_bytes=peak.breakdown["workspace"],
            allocated_bytes=peak.allocated,
            reserved_bytes=peak.reserved,
            total_bytes=peak.reserved + req.context_bytes,
        )
        rows.append(row)
    main = devices[0][1]
    if "convolution" in main.ops:
        _note(notes, CUDNN_NOTE)
    return {
        "batch_size": req.batch_size,
        "precision": req.precision,
        "strategy": req.strategy,
        "devices": req.devices,
        "per_device": rows,
        "peak_bytes": max(r["allocated_bytes"] for r in rows),
        "max_batch_size": None,
        "parameter_count": main.parameters,
        "context_bytes": req.context_bytes,
        "approximate": any(n.startswith("approximate") for n in notes),
        "notes": notes,
    }


def with_batch(req: Request, batch_size: int) -> Request:
    return replace(req, batch_size=batch_size)
