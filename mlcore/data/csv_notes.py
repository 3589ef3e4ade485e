"""The start-up lines of a CSV's preprocessing: one per transformation that changed something
(column types, filled cells, dropped rows, unseen categories). They go to the console and
train.log with the other data lines, and into summary.json["data"]["preprocessing"]."""

from __future__ import annotations

from typing import Any

from mlcore.data.tabular import Column

SHOWN = 3  # names listed in a line before "and N more"


def _names(items: list[str]) -> str:
    more = len(items) - SHOWN
    return ", ".join(items[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def notes(
    state: dict[str, Any],
    columns: list[Column],
    dropped: dict[str, int],
    unseen: dict[str, dict[str, int]],
    fitted_on: str,
) -> list[str]:
    fitted = state["columns"]
    kinds = [f["kind"] for f in fitted]
    categories = sum(len(f["categories"]) for f in fitted if f["kind"] == "categorical")
    line = (
        f"columns: {kinds.count('numeric')} numeric, {kinds.count('categorical')} categorical "
        f"({categories} categories, one-hot)"
    )
    ignored = [f"{name} ({why})" for name, why in state["ignored"].items()]
    if ignored:
        line += f", {len(ignored)} ignored: {_names(ignored)}"
    where = "the training split" if fitted_on == "train" else "the checkpoint"
    lines = [line + f"; {len(state['features'])} features, encoded as fitted on {where}"]
    lines += _filled(columns, fitted)
    rows = []
    if dropped["no_target"]:
        rows.append(f"{dropped['no_target']} without a target {state['target']!r}")
    if dropped["gaps"]:
        rows.append(f"{dropped['gaps']} with a missing cell (data.missing: drop)")
    if rows:
        lines.append("rows dropped: " + ", ".join(rows))
    zero = [f"{c} {n} in {s}" for s, per in unseen.items() for c, n in per.items()]
    if zero:
        total = sum(n for per in unseen.values() for n in per.values())
        lines.append(
            f"unseen categories: {total} cells of categories (or gaps) the training split "
            f"did not have encode as all-zero ({_names(zero)})"
        )
    return lines


def _filled(columns: list[Column], fitted: list[dict[str, Any]]) -> list[str]:
    numeric = categorical = 0
    flagged = []
    for col, f in zip(columns, fitted, strict=True):
        gaps = int(col.missing().sum())
        if f["kind"] == "numeric":
            numeric += gaps
        elif f["gaps"]:
            categorical += gaps
        if f["gaps"]:
            flagged.append(f"{f['name']}_missing")
    if not numeric and not categorical:
        return []
    return [
        f"missing cells: {numeric} numeric filled with the training median, {categorical} "
        f"categorical as category 'missing'; 0/1 columns {_names(flagged)}"
    ]
