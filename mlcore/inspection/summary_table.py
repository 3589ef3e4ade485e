"""`mlcore summary` as Rich renderables, from the plain dict of `ModelSummary.to_dict()`
(the same dict `--json` prints). The caller prints them."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text


def _shape(shape: list[Any] | None) -> str:
    return "—" if shape is None else "(" + ", ".join(str(d) for d in shape) + ")"


def _trainable(row: dict[str, Any]) -> str:
    if row["params"] == 0:
        return ""
    if row["trainable_params"] == row["params"]:
        return "yes"
    return "no" if row["trainable_params"] == 0 else f"{row['trainable_params']:,}"


def _size(n_bytes: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}; "
    return ""


def _unbiased(row: dict[str, Any]) -> bool:
    return row["type"].startswith(("Conv", "Linear")) and " + " not in row["arithmetic"]


def layer_table(summary: dict[str, Any]) -> Table:
    table = Table()
    table.add_column("layer", overflow="fold")  # a long qualified name wraps, never cut
    table.add_column("type")
    table.add_column("output shape")
    table.add_column("parameters", justify="right")
    table.add_column("trainable")
    table.add_column("arithmetic", overflow="fold")
    for row in summary["layers"]:
        shape = _shape(row["output_shape"]) + (f" ×{row['calls']}" if row["calls"] > 1 else "")
        params = f"{row['params']:,}" if row["params"] else ""
        table.add_row(row["name"], row["type"], shape, params, _trainable(row), row["arithmetic"])
    return table


def render_summary(summary: dict[str, Any]) -> list[RenderableType]:
    """A heading, the layer table, notes, and the totals."""
    shape = ", ".join(str(d) for d in summary["input_shape"])
    if summary.get("latent_dim"):  # a GAN: two networks, latent -> sample -> one logit
        pack = summary.get("pack", 1)
        judged = (
            f"packs of {pack} samples side by side (B/{pack} rows) -> one logit per pack"
            if pack > 1
            else "samples -> one logit each"
        )
        what = (
            f"generator (B, {summary['latent_dim']}) -> samples (B, {shape}); "
            f"discriminator {judged}"
        )
    else:
        n = summary["num_outputs"]
        what = f"input (B, {shape}), {n} output{'s' if n != 1 else ''}"
    heading = Text(f"{summary['model']} on {summary['data']}: {what}", style="bold")
    parts: list[RenderableType] = [heading, layer_table(summary)]
    if any(row["calls"] > 1 for row in summary["layers"]):
        parts.append("×n: the layer runs n times per forward pass (shape of the first call)")
    if any(_unbiased(row) for row in summary["layers"]):
        parts.append(
            "no + N: a conv or linear layer without a bias (bias=False), as when a batchnorm "
            "follows it and supplies the shift"
        )
    if not summary["note"] and any(row["output_shape"] is None for row in summary["layers"]):
        parts.append(
            "—: not called as a module in an eval-mode forward (a GAN's weight average, which "
            "training updates but never calls; or its parent uses its weights "
            "directly, as attention does with its projections, or it is skipped in eval mode)"
        )
    if summary["note"]:
        parts.append(summary["note"])
    n_bytes = summary["param_bytes_fp32"]
    parts += [
        f"total parameters       {summary['total_params']:>14,}",
        f"trainable              {summary['trainable_params']:>14,}",
        f"non-trainable          {summary['non_trainable_params']:>14,}",
        f"parameter size (fp32)  {n_bytes:>14,} bytes ({_size(n_bytes)}4 bytes each)",
    ]
    if summary["buffer_values"]:
        parts.append(
            f"buffers                {summary['buffer_values']:>14,} values (not parameters: saved "
            "with the model, never trained; e.g. batchnorm running statistics)"
        )
    return parts
