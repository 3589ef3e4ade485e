"""The compare table as Rich parts (the CLI prints them)."""

from __future__ import annotations

from typing import Any


def mean_std(cell: dict[str, Any]) -> str:
    """`0.9533 ± 0.0041`; the std is `–` for a single run (sample std is undefined)."""
    if cell["mean"] is None:
        return "–"
    std = f"{cell['std']:.2g}" if cell["std"] is not None else "–"
    return f"{cell['mean']:.4g} ± {std}"


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
        return text + " (one seed: the seed spread is unknown)"
    relation = "exceeds" if best["beyond_noise"] else "is within"
    return text + f", {relation} the seed spread (larger std {best['spread']:.3g})"


def render_compare(table: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    metric, monitor = table["metric"], table["monitor"] or "monitor"
    out = Table(title=f"{len(table['variants'])} variants, mean ± std over seeds")
    columns = ["variant", "n", f"best {monitor}"]
    if metric != monitor:
        columns.append(f"best {metric}")
    columns += [f"test {table['test_metric'] or '–'}", "final train/loss", "final val/loss",
                "train − val loss"]  # fmt: skip
    if table["target"]:
        columns.append(f"epochs to {table['target']}")
    columns += ["train time (s)", "not averaged"]
    for name in columns:  # the variant names the row: never cut it, narrow the numbers
        left = name in ("variant", "not averaged")
        out.add_column(name, justify="left" if left else "right", no_wrap=name == "variant")
    best = (table["best"] or {}).get("variant")
    for row in table["variants"]:
        cells = [("* " if row["variant"] == best else "") + row["variant"], str(row["n"])]
        cells.append(mean_std(row["best_monitor"]))
        if metric != monitor:
            cells.append(mean_std(row["best_metric"]))
        cells += [mean_std(row[k]) for k in ("test", "train_loss", "val_loss", "gap")]
        if table["target"]:
            cells.append(reached(row.get("epochs_to_target")))
        cells.append(mean_std(row["seconds"]))
        cells.append(", ".join(f"{n} {s}" for s, n in row["not_averaged"].items()))
        out.add_row(*cells, style="bold" if row["variant"] == best else None)
    parts: list[Any] = [out]
    line = verdict(table)
    if line:
        parts.append(line)
    return parts
