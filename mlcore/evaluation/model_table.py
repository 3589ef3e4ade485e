"""A report's `model` section (model_stats.py) as Rich tables: weights per layer, then ReLU
units that never fired on the split. Works from the plain dict (summary.json renders too)."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

# A ResNet has 21 weight layers: beyond this many rows a table shows its first and last
# layers and says how many it skipped (the JSON report has them all).
MAX_ROWS = 12


def _shown(rows: list[dict]) -> tuple[list[dict], list[dict], int]:
    """(head, tail, skipped): the rows a table shows, split around the ones it leaves out."""
    if len(rows) <= MAX_ROWS:
        return rows, [], 0
    half = MAX_ROWS // 2
    return rows[:half], rows[-half:], len(rows) - 2 * half


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _name(row: dict) -> str:
    """ "linear 1 · hidden.0": the reader's count, then the module path of the JSON report."""
    label = row.get("label")  # absent from reports written before labels
    return f"{label} · {row['layer']}" if label and label != row["layer"] else row["layer"]


def render_model_section(section: dict) -> list[RenderableType]:
    weights, acts = section["weights"], section["activations"]
    below = section.get("sparse_below", 1e-3)
    table = Table()
    for col in ("layer", "weights", f"|w| < {below:g}", "L2 norm"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    head, tail, skipped = _shown(weights["layers"])
    for row in head + ([None] if skipped else []) + tail:
        if row is None:
            table.add_row(f"… {skipped} more layers (eval --json lists them)", "", "", "",
                          style="dim")  # fmt: skip
            continue
        table.add_row(_name(row), str(row["params"]), _pct(row["sparsity"]), f"{row['norm']:.4g}")
    if weights["layers"]:
        table.add_section()
        table.add_row("all", str(weights["params"]), _pct(weights["sparsity"]),
                      f"{weights['norm']:.4g}", style="bold")  # fmt: skip
    out: list[RenderableType] = [Text("Model: weights (matrices and kernels)", style="bold"), table]
    if acts["layers"]:
        relus = Table()
        for col in ("layer", "kind", "units", "dead / never > 0"):
            relus.add_column(col, justify="left" if col in ("layer", "kind") else "right")
        head, tail, skipped = _shown(acts["layers"])
        for row in head + ([None] if skipped else []) + tail:
            if row is None:
                relus.add_row(f"… {skipped} more", "", "", "", style="dim")
                continue
            units = "—" if row["units"] is None else str(row["units"])
            relus.add_row(_name(row), row["kind"], units, _pct(row["dead"]))
        out += [Text("Model: ReLU units that never fired on this split", style="bold"), relus]
        out.append(Text(f"dead ReLU units: {_pct(acts['dead_relu'])}"
                        + ("" if acts["never_positive"] is None else
                           f"; leaky ReLU units never positive (still learning, slope 0.01): "
                           f"{_pct(acts['never_positive'])}")))  # fmt: skip
    return out
