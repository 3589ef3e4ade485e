"""`mlcore compare` top-down: read the runs, aggregate, write compare.json and the figure."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mlcore.atomic import atomic_write_text
from mlcore.errors import MlcoreError
from mlcore.sweep.compare import aggregate, default_metric, parse_target
from mlcore.sweep.runs_read import plain_runs, sweep_runs
from mlcore.sweep.state import DONE, FILE


def compare(
    paths: list[Path], metric: str | None, target: str | None, out: Path | None
) -> tuple[dict[str, Any], list[Path]]:
    """The table, and the files written: compare.json and plots/compare_<metric>.png in the
    sweep directory, or for plain run directories in `out` (default: the current one)."""
    if len(paths) == 1 and (paths[0] / FILE).is_file():
        runs, doc = sweep_runs(paths[0])
        metric, target = metric or doc.get("metric"), target or doc.get("target")
        out = out or paths[0]
    else:
        for path in paths:
            if not path.is_dir():
                raise MlcoreError(f"{path}: no such folder")
        runs = plain_runs(paths)
        out = out or Path(".")
    metric = metric or default_metric(runs)
    table = aggregate(runs, metric, parse_target(target) if target else None)
    written = [out / "compare.json"]
    atomic_write_text(written[0], json.dumps(table, indent=2) + "\n")
    groups: dict[str, list[list[dict[str, str]]]] = {}
    for run in runs:
        if run.status in DONE and run.rows:
            groups.setdefault(run.variant, []).append(run.rows)
    if groups:
        from mlcore.plots.compare import plot_compare

        name = re.sub(r"[^A-Za-z0-9._-]", "_", metric)
        best = (table["best"] or {}).get("variant")
        one_seed = frozenset(r["variant"] for r in table["variants"] if len(set(r["seeds"])) < 2)
        path = out / "plots" / f"compare_{name}.png"
        written.append(plot_compare(groups, metric, path, best, one_seed))
    return table, written
