"""`mlcore gpu-mem` end to end: the estimate at the asked batch, the simple rules beside
it, and with a GPU's memory the largest batch that fits."""

from __future__ import annotations

from typing import Any

from mlcore.config import Config
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
    sample = 1
    for d in spec.input_shape:
        sample *= d
    batch = req.batch_size * sample * (2 if half else 4)
    return {
        "weights_only": parameters * weight,
        "seed_note_as_written": parameters * (4 if half else 8) + batch,
        "seed_note_corrected": parameters * (2 if half else 4) + batch,
    }


def gpu_mem_report(cfg: Config, req: Request, gpu_memory: int | None) -> dict[str, Any]:
    spec, source = data_spec(cfg)
    report = estimate(cfg, spec, req)
    if source != "data":
        report["notes"].append(source)
    report["rules"] = simple_rules(report["parameters"], spec, req)
    report["gpu_memory_bytes"] = gpu_memory
    if gpu_memory is None:
        return report
    per = req.devices if req.strategy == "dp" else 1

    def need(batch: int) -> int:  # per-device batch -> bytes on the fullest device
        return _need(estimate(cfg, spec, with_batch(req, batch * per)), req)

    train = spec.resident.get("train") or None
    cap = (train // per if req.strategy == "dp" else train) if train else None
    best, missing = largest_batch(need, gpu_memory, max(1, req.batch_size // per), cap)
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
