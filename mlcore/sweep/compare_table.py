"""The compare table as Rich parts (the CLI prints them)."""

from __future__ import annotations

from typing import Any


def mean_std(cell: dict[str, Any]) -> str:
    """`0.9533 ± 0.0041`; the mean alone without a spread (one run, or runs of one seed)."""
    if cell["mean"] is None:
        return "–"
    if cell["std"] is None:
        return f"{cell['mean']:.4g}"
    # equal values give a std of rounding noise (3e-17): show it as the 0 it is
    return f"{cell['mean']:.4g} ± {round(cell['std'], 12):.2g}"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _seeds(row: dict[str, Any]) -> int:
    return len(set(row["seeds"]))


def title(table: dict[str, Any]) -> str:
    """`2 variants, mean ± std over seeds`; `1 variant, 1 seed: no spread` (none to show)."""
    rows = table["variants"]
    spread = [_seeds(row) > 1 for row in rows]
    if all(spread):
        how = "mean ± std over seeds"
    elif any(spread):
        how = "mean ± std over seeds (a variant of 1 seed: its mean alone)"
    else:
        how = "1 seed: no spread" if len(rows) == 1 else "1 seed each: no spread"
    return f"{_plural(len(rows), 'variant')}, {how}; losses at the last epoch"


def runs_cell(row: dict[str, Any]) -> str:
    """n, and the seeds where fewer: `3 (1 seed)` for three copies of one run."""
    seeds = _seeds(row)
    return str(row["n"]) if seeds >= row["n"] else f"{row['n']} ({_plural(seeds, 'seed')})"


def reached(cell: dict[str, Any] | None) -> str:
    if not cell or not cell["n"]:
        return "–"
    if not cell["reached"]:
        return f"0/{cell['n']} reached"
    return f"{cell['reached']}/{cell['n']} reached, mean {cell['mean']:.3g}"


def verdict(table: dict[str, Any]) -> str | None:
    best = table["best"]
    if not best:
        return None
    arrow = "lower" if table["lower_is_better"] else "higher"
    text = f"best: {best['variant']} (best {table['metric']}, {arrow} is better)"
    if best["runner_up"] is None:
        return text
    text += f"; lead over {best['runner_up']}: {best['lead']:.3g}"
    if best["beyond_noise"] is None:
        return text + " (1 seed: the seed spread is unknown)"
    relation = "exceeds" if best["beyond_noise"] else "is within"
    return text + f", {relation} the seed spread (larger std {best['spread']:.3g})"


def render_compare(table: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    metric, monitor = table["metric"], table["monitor"] or "monitor"
    target = f"; target {table['target']}" if table["target"] else ""
    out = Table(title=title(table) + target)
    columns = ["variant", "n", f"best {monitor}"]
    if metric != monitor:
        columns.append(f"best {metric}")
    # losses at the last epoch; time = the run's own training time (summary.json duration_s)
    columns += [f"test {table['test_metric'] or '–'}", "train loss", "val loss", "train−val"]
    if table["target"]:
        columns.append("epochs to target")
    columns.append("time (s)")
    for name in columns:  # no cell wraps: a row stays one line
        out.add_column(name, justify="left" if name == "variant" else "right", no_wrap=True)
    best = (table["best"] or {}).get("variant")
    for row in table["variants"]:
        cells = [("* " if row["variant"] == best else "") + row["variant"], runs_cell(row)]
        cells.append(mean_std(row["best_monitor"]))
        if metric != monitor:
            cells.append(mean_std(row["best_metric"]))
        cells += [mean_std(row[k]) for k in ("test", "train_loss", "val_loss", "gap")]
        if table["target"]:
            cells.append(reached(row.get("epochs_to_target")))
        cells.append(mean_std(row["seconds"]))
        out.add_row(*cells, style="bold" if row["variant"] == best else None)
    parts: list[Any] = [out]
    for row in table["variants"]:  # unfinished runs are shown, never averaged in
        if row["not_averaged"]:
            counted = ", ".join(f"{n} {s}" for s, n in row["not_averaged"].items())
            parts.append(f"{row['variant']}: {counted} (not averaged)")
    line = verdict(table)
    if line:
        parts.append(line)
    return parts
