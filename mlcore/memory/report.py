"""`mlcore gpu-mem` end to end: the estimate at the asked batch, the simple rules beside
it, and with a GPU's memory the largest batch that fits."""

from __future__ import annotations

import math
from typing import Any

from mlcore.config import Config
from mlcore.errors import MlcoreError
from mlcore.memory.estimate import Request, estimate, with_batch
from mlcore.memory.search import largest_batch
from mlcore.memory.spec import data_spec
from mlcore.memory.trace import DataSpec


def simple_rules(parameters: int, spec: DataSpec, req: Request) -> dict[str, int]:
    """What the usual shortcuts say for the same config, to show why they fail.

    weights_only: parameters x bytes per weight (what `accelerate estimate-memory` counts).
    seed_note: the study note's rule, parameters x 8 bytes (FP32) or 4 (FP16) + the input
    batch; corrected: the same with FP32 = 4 bytes and FP16/BF16 = 2."""
    half = req.precision in ("fp16", "bf16")
    weight = 2 if req.precision == "fp16" else 4  # amp and bf16 autocast keep fp32 weights
    batch = req.batch_size * math.prod(spec.input_shape) * (2 if half else 4)
    return {
        "weights_only": parameters * weight,
        "seed_note_as_written": parameters * (4 if half else 8) + batch,
        "seed_note_corrected": parameters * (2 if half else 4) + batch,
    }


def largest_possible_batch(spec: DataSpec, req: Request) -> int | None:
    """The largest batch the trainer can form: the training split (each rank's share under
    ddp, which shards it). None when the split's size is unknown."""
    samples = spec.sizes.get("train") or spec.resident.get("train")
    if not samples:
        return None
    return math.ceil(samples / req.devices) if req.strategy == "ddp" else samples


def smallest_traceable_batch(cfg: Config, spec: DataSpec) -> tuple[int, str]:
    """The smallest batch training can take (the model built on the meta device: free)."""
    import torch

    from mlcore.models import build_model, smallest_batch

    with torch.device("meta"):
        model = build_model(cfg.model, spec.input_shape, spec.n_out, spec.model_task)
    return smallest_batch(cfg.model, model)


def gpu_mem_report(cfg: Config, req: Request, gpu_memory: int | None) -> dict[str, Any]:
    spec, source = data_spec(cfg)
    notes = [] if source == "data" else [source]
    least, why = smallest_traceable_batch(cfg, spec)
    if req.per_device_batch < least:
        raise MlcoreError(
            f"--batch-size {req.batch_size}: too small for this model ({why}); training "
            f"refuses it too: use {least * (req.devices if req.strategy == 'dp' else 1)} or more"
        )
    most = largest_possible_batch(spec, req)
    if most is not None and req.batch_size > most:
        share = " per rank" if req.strategy == "ddp" else ""
        notes.append(
            f"batch {req.batch_size} is larger than the training split ({most} samples{share}): "
            f"a batch holds at most {most}, which is what is estimated"
        )
        req = with_batch(req, most)
    report = estimate(cfg, spec, req)
    report["notes"].extend(notes)
    report["rules"] = simple_rules(report["parameter_count"], spec, req)
    report["gpu_memory_bytes"] = gpu_memory
    if gpu_memory is None:
        return report
    per = req.devices if req.strategy == "dp" else 1

    def need(batch: int) -> int:  # per-device batch -> bytes on the fullest device
        return _need(estimate(cfg, spec, with_batch(req, batch * per)), req)

    cap = most // per if most is not None else None
    best, missing = largest_batch(need, gpu_memory, req.per_device_batch, cap, least)
    report["max_batch_size"] = best * per if best else 0
    report["max_batch_capped"] = bool(cap and best == cap)
    report["missing_at_batch_1"] = missing
    report["fits"] = _need(report, req) <= gpu_memory
    return report


def _need(report: dict[str, Any], req: Request) -> int:
    """What must fit on the fullest device: the caching allocator's reserved peak and the
    CUDA context. The allocator frees cached segments and retries before it reports out
    of memory, but blocks split inside a segment that is partly in use cannot be freed, so
    the reserved peak is the safe bound (measured on an H200: a batch chosen by the
    allocated peak alone ran out of memory)."""
    return max(row["reserved_bytes"] for row in report["per_device"]) + req.context_bytes
