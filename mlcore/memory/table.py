"""The gpu-mem report as Rich renderables (the CLI prints them)."""

from __future__ import annotations

from typing import Any

from mlcore.memory.sizes import human
from mlcore.memory.tracker import CATEGORIES

EXPLAIN = {
    "parameters": "weights and batchnorm buffers",
    "gradients": "one per trainable weight (more while backward sums them; DDP's buckets)",
    "optimizer_states": "e.g. Adam's two moments per weight; none for plain SGD",
    "activations": "forward outputs kept for backward, at the peak",
    "inputs": "the batch, and the data splits the loader keeps on the device",
    "other": "gradients of activations in backward, optimizer scratch",
    "workspace_bytes": "cuBLAS(Lt) workspaces, one per thread that multiplies matrices",
    "allocated_bytes": "peak, in allocator blocks (torch.cuda.max_memory_allocated)",
    "reserved_bytes": "segments the caching allocator holds (max_memory_reserved)",
    "total_bytes": "+ CUDA context: what nvidia-smi shows",
}
LABEL = {
    "optimizer_states": "optimizer state",
    "other": "temporaries",
    "workspace_bytes": "workspaces",
    "allocated_bytes": "allocated",
    "reserved_bytes": "reserved",
    "total_bytes": "total",
}
ROWS = (*CATEGORIES, "workspace_bytes", "allocated_bytes", "reserved_bytes", "total_bytes")


def render_gpu_mem(report: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    rows = report["per_device"]
    title = (
        f"gpu-mem · batch {report['batch_size']} · {report['precision']} · "
        f"{report['strategy']}" + (f" × {report['devices']}" if report["devices"] > 1 else "")
    )
    table = Table(title=title, title_justify="left")
    table.add_column("component")
    for row in rows:
        table.add_column(row["device"], justify="right")
    table.add_column("share", justify="right")
    table.add_column("B/param", justify="right")
    table.add_column("what it is")
    first, params = rows[0], max(report["parameter_count"], 1)
    for key in ROWS:
        share = ""
        cells = [human(_shown(row, key)) for row in rows]
        per_param = f"{_shown(first, key) / params:.1f}"
        if key in CATEGORIES or key == "workspace_bytes":
            share = f"{_shown(first, key) / first['allocated_bytes']:.1%}"
        table.add_row(LABEL.get(key, key), *cells, share, per_param, EXPLAIN[key])
    return [table, *_lines(report)]


def _shown(row: dict[str, Any], key: str) -> int:
    """The table shows the workspaces on their own row, apart from the temporaries."""
    return row["other"] - row["workspace_bytes"] if key == "other" else row[key]


def _lines(report: dict[str, Any]) -> list[str]:
    allocated = report["peak_bytes"]
    lines = [f"parameters: {report['parameter_count']:,}"]
    # the rule as the note writes it: 8 B for FP32 and 4 for FP16 (twice the truth)
    note = "4 B (its FP16)" if report["precision"] in ("fp16", "bf16") else "8 B (its FP32)"
    names = {
        "weights_only": "weights only (parameters x bytes each)",
        "seed_note_as_written": f"study note's rule: parameters x {note} + the input batch",
        "seed_note_corrected": "the same rule with FP32 = 4 B, FP16 = 2 B (the truth)",
    }
    lines.append("what simple rules say, against the traced peak:")
    for key, value in report["rules"].items():
        off = (value - allocated) / allocated if allocated else 0.0
        lines.append(f"  {names[key]}: {human(value)} ({off:+.0%})")
    lines.extend(f"note: {n}" for n in report["notes"])
    rows = report["per_device"]
    if report["strategy"] == "dp" and len(rows) > 1:
        first, other = rows[0]["allocated_bytes"], rows[1]["allocated_bytes"]
        lines.append(
            f"imbalance: cuda:0 needs {human(first - other)} more than each other GPU "
            f"({first / other - 1:+.0%}); ddp (one process per GPU) holds the same on each"
        )
    if report.get("gpu_memory_bytes") is not None:
        lines.append(_fit_line(report))
    return lines


def _fit_line(report: dict[str, Any]) -> str:
    gpu = human(report["gpu_memory_bytes"])
    best = report["max_batch_size"]
    if not best:
        return (
            f"does not fit in {gpu} even at batch size 1: "
            f"{human(report['missing_at_batch_1'])} short"
        )
    verdict = "fits" if report["fits"] else "does NOT fit"
    capped = (
        " (the whole training split: nothing larger exists)"
        if report.get("max_batch_capped")
        else ""
    )
    return (
        f"batch {report['batch_size']} {verdict} in {gpu}; largest batch that fits: {best}{capped}"
    )
