"""`mlcore runs`: find run directories under a folder and list them as a table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mlcore.errors import MlcoreError

# The headline test number of each task, for one column of the table.
HEADLINE = {"classification": "accuracy", "segmentation": "miou", "regression": "rmse"}


def find_runs(root: Path) -> list[dict[str, Any]]:
    """Every directory below `root` holding a summary.json, oldest first."""
    if not root.exists():
        raise MlcoreError(f"{root}: no such folder")
    if not root.is_dir():
        raise MlcoreError(f"{root}: not a folder")
    found = []
    for summary_path in sorted(root.rglob("summary.json")):
        run = summary_path.parent
        try:
            summary = json.loads(summary_path.read_text())
            config = yaml.safe_load((run / "config.yaml").read_text()) or {}
        except (OSError, ValueError, yaml.YAMLError):
            continue  # not a readable run (or one being created): skip, do not fail
        found.append({"path": run, "summary": summary, "config": config})
    found.sort(key=lambda r: r["summary"].get("started_at", ""))
    return found


def row(run: dict[str, Any], root: Path) -> list[str]:
    s, c = run["summary"], run["config"]
    best = s.get("best") or {}
    best_text = f"{best['monitor']} {best['value']:.4g}" if best.get("value") is not None else "-"
    test = s.get("test") or {}
    metric = HEADLINE.get(test.get("task", ""))
    if test.get("task") == "generation":  # 2-D mixtures or images
        metric = "high_quality_fraction" if "num_modes" in test else "confident_fraction"
    test_text = f"{metric} {test[metric]:.4g}" if metric and test.get(metric) is not None else "-"
    epochs = f"{s.get('epochs_completed', 0)}/{(c.get('trainer') or {}).get('epochs', '?')}"
    return [
        str(run["path"].relative_to(root)) if run["path"] != root else str(root),
        str((c.get("model") or {}).get("name", "?")),
        str((c.get("data") or {}).get("name", "?")),
        epochs,
        str(s.get("status", "?")),
        best_text,
        test_text,
    ]


def runs_table(runs: list[dict[str, Any]], root: Path) -> Any:
    from rich.table import Table

    table = Table(title=f"runs under {root}")
    for name in ("run", "model", "dataset", "epochs", "status", "best (val)", "test"):
        table.add_column(name, justify="right" if name == "epochs" else "left")
    for run in runs:
        table.add_row(*row(run, root))
    return table
