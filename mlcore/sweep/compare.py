"""`mlcore compare`: one row per variant, aggregated over its seeds.

Only finished runs (completed, early_stopped) are averaged; the others are counted by status
in their row. Std is the sample std (ddof=1), undefined for one run. The best variant is the
one with the best mean of the metric's best value over epochs; its lead is "beyond seed
noise" when the gap between its mean and the runner-up's exceeds the larger of their two
stds (with one seed either way, it cannot be told).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from mlcore.errors import MlcoreError
from mlcore.sweep.runs_read import Run
from mlcore.sweep.state import DONE

# The headline test number of each task (summary.json "test"), as in `mlcore runs`.
TEST_METRIC = {"classification": "accuracy", "segmentation": "miou", "regression": "r2"}
LOWER_IS_BETTER = ("loss", "mse", "rmse", "mae", "kl", "dead_relu")  # fewer dead units: better


def lower_is_better(metric: str) -> bool:
    name = metric.rsplit("/", 1)[-1]
    return name.endswith(LOWER_IS_BETTER)


def parse_target(text: str) -> tuple[str, float]:
    key, sep, raw = text.partition("=")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not sep or not key.strip() or math.isnan(value):
        raise MlcoreError(f"--target {text!r}: expected KEY=NUMBER, e.g. val/accuracy=0.95")
    return key.strip(), value


def check_runs(runs: list[Run], metric: str, target: tuple[str, float] | None) -> str:
    """The runs' one task; a mix of tasks, or a metric some runs lack, is refused."""
    if not runs:
        raise MlcoreError("compare: no runs to compare")
    finished = [r for r in runs if r.status in DONE]
    tasks: dict[str, list[str]] = {}
    for run in runs:
        if run.task:
            tasks.setdefault(run.task, []).append(run.path.name)
    if len(tasks) > 1:
        mix = "; ".join(f"{t}: {', '.join(p[:2])}{' ...' if len(p) > 2 else ''}"
                        for t, p in tasks.items())  # fmt: skip
        raise MlcoreError(f"compare: the runs mix tasks ({mix}); compare runs of one task")
    for key, flag in ((metric, "--metric"), *([(target[0], "--target")] if target else [])):
        lacking = [r.path.name for r in finished if key not in r.columns]
        if lacking:
            some = next((r.columns for r in finished if r.columns), [])
            known = ", ".join(c for c in some if c.startswith(("val/", "train/")))
            raise MlcoreError(
                f"{flag} {key}: not in metrics.csv of {_plural(len(lacking), 'run')} "
                f"({', '.join(lacking[:2])}{' ...' if len(lacking) > 2 else ''}); "
                f"logged: {known or 'nothing'}"
            )
    return next(iter(tasks), "unknown")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def default_metric(runs: list[Run]) -> str:
    """The runs' checkpoint monitor when they share one, else val/loss."""
    monitors = {(r.summary.get("best") or {}).get("monitor") for r in runs if r.status in DONE}
    monitors.discard(None)
    return monitors.pop() if len(monitors) == 1 else "val/loss"


def _floats(rows: list[dict[str, str]], key: str) -> list[tuple[int, float]]:
    out = []
    for row in rows:
        value = row.get(key)
        if value not in (None, ""):
            out.append((int(row["epoch"]), float(value)))
    return out


def run_values(run: Run, metric: str, target: tuple[str, float] | None, task: str) -> dict:
    """One run's figures (None where it has no such number)."""
    lower = lower_is_better(metric)
    series = [v for _, v in _floats(run.rows, metric) if not math.isnan(v)]
    test = run.summary.get("test") or {}
    last = run.rows[-1] if run.rows else {}
    train, val = _num(last.get("train/loss")), _num(last.get("val/loss"))
    values = {
        "best_monitor": (run.summary.get("best") or {}).get("value"),
        "best_metric": (min(series) if lower else max(series)) if series else None,
        "test": test.get(test_key(task, test)),
        "train_loss": train,
        "val_loss": val,
        "gap": train - val if train is not None and val is not None else None,
        "seconds": run.summary.get("duration_s"),
        "epochs_to_target": None,
    }
    if target:
        key, goal = target
        reached = (lambda v: v <= goal) if lower_is_better(key) else (lambda v: v >= goal)
        values["epochs_to_target"] = next(
            (e for e, v in _floats(run.rows, key) if reached(v)), None
        )
    return values


def test_key(task: str, test: dict[str, Any]) -> str | None:
    if task == "generation":
        return "high_quality_fraction" if "num_modes" in test else "confident_fraction"
    return TEST_METRIC.get(task)


def _num(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def stats(values: list[float | None], spread: bool = True) -> dict[str, Any]:
    """mean, sample std (ddof=1; None for one value, or when not `spread`: runs of one
    seed, whose std is no seed spread) and n of the values that exist."""
    present = [v for v in values if v is not None]
    if not present:
        return {"mean": None, "std": None, "n": 0}
    std = statistics.stdev(present) if spread and len(present) > 1 else None
    return {"mean": statistics.fmean(present), "std": std, "n": len(present)}


def aggregate(runs: list[Run], metric: str, target: tuple[str, float] | None) -> dict[str, Any]:
    """The compare table: one entry per variant, in the order the variants first appear."""
    task = check_runs(runs, metric, target)
    variants: dict[str, list[Run]] = {}
    for run in runs:
        variants.setdefault(run.variant, []).append(run)
    rows = [_row(name, group, metric, target, task) for name, group in variants.items()]
    return {
        "task": task,
        "metric": metric,
        "lower_is_better": lower_is_better(metric),
        "target": f"{target[0]}={target[1]:g}" if target else None,
        "test_metric": test_key(task, _any_test(runs)),
        "monitor": _monitor(runs),
        "variants": rows,
        "best": best_variant(rows, lower_is_better(metric)),
    }


def _any_test(runs: list[Run]) -> dict[str, Any]:
    return next((r.summary["test"] for r in runs if r.summary.get("test")), {})


def _monitor(runs: list[Run]) -> str | None:
    return next(((r.summary.get("best") or {}).get("monitor") for r in runs if r.status in DONE),
                None)  # fmt: skip


def _row(name: str, group: list[Run], metric: str, target, task: str) -> dict[str, Any]:
    finished = [r for r in group if r.status in DONE]
    per_run = [run_values(r, metric, target, task) for r in finished]
    others: dict[str, int] = {}
    for run in group:
        if run.status not in DONE:
            others[run.status] = others.get(run.status, 0) + 1
    row = {
        "variant": name,
        "n": len(finished),
        "runs": [str(r.path) for r in group],
        "seeds": [r.seed for r in finished],
        "not_averaged": others,
    }
    # copies of one run, or runs that differ only in name: their std (0, or a GPU's
    # nondeterminism) is no spread over seeds, and must not make a lead "beyond noise"
    spread = len(set(row["seeds"])) > 1
    for key in ("best_monitor", "best_metric", "test", "train_loss", "val_loss", "gap", "seconds"):
        row[key] = stats([v[key] for v in per_run], spread)
    if target:
        epochs = [v["epochs_to_target"] for v in per_run]
        reached = [e for e in epochs if e is not None]
        row["epochs_to_target"] = {
            "reached": len(reached),
            "n": len(epochs),
            "mean": statistics.fmean(reached) if reached else None,
            "std": statistics.stdev(reached) if spread and len(reached) > 1 else None,
        }
    return row


def best_variant(rows: list[dict[str, Any]], lower: bool) -> dict[str, Any] | None:
    """The best mean of the metric's best value; does its lead exceed the seed spread?"""
    ranked = [r for r in rows if r["best_metric"]["mean"] is not None]
    if not ranked:
        return None
    ranked.sort(key=lambda r: r["best_metric"]["mean"], reverse=not lower)
    best = {"variant": ranked[0]["variant"], "runner_up": None, "lead": None, "spread": None,
            "beyond_noise": None}  # fmt: skip
    if len(ranked) > 1:
        first, second = ranked[0]["best_metric"], ranked[1]["best_metric"]
        best["runner_up"] = ranked[1]["variant"]
        best["lead"] = abs(first["mean"] - second["mean"])
        if first["std"] is not None and second["std"] is not None:
            best["spread"] = max(first["std"], second["std"])
            best["beyond_noise"] = best["lead"] > best["spread"]
    return best
