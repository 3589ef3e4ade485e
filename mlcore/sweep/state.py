"""sweep.json: what a sweep directory holds, and each trial's status.

A trial's status is its run's own (summary.json: completed, early_stopped, failed,
interrupted, running); a trial with no run directory is `pending`, or `failed` when its
process ended before making one (a config that only the data can refuse), with its error
line kept here. run_dir is relative to the sweep directory, so the folder can move.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlcore.atomic import atomic_write_text
from mlcore.errors import MlcoreError
from mlcore.sweep.spec import SweepSpec, Trial

FILE = "sweep.json"
DONE = ("completed", "early_stopped")


def run_path(sweep_dir: Path, trial_id: str) -> Path:
    return sweep_dir / "runs" / trial_id


def read_sweep(sweep_dir: Path) -> dict[str, Any] | None:
    path = sweep_dir / FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise MlcoreError(f"{path}: unreadable ({err})") from None


def check_same_sweep(sweep_dir: Path, spec: SweepSpec, old: dict[str, Any] | None) -> None:
    """Refuse to mix two sweeps in one directory: the runs would not be comparable."""
    if old is None:
        return
    new = spec.identity()
    for key, what in (("config_hash", "base config"), ("grid", "grid"), ("variants", "variants")):
        if old.get(key) != new[key]:
            raise MlcoreError(
                f"{sweep_dir}: holds a sweep of a different {what} ({old.get('config')}); "
                "give another --sweep-dir"
            )


def run_status(sweep_dir: Path, trial_id: str) -> dict[str, Any]:
    """status, and the monitored best, error and seconds when the run recorded them."""
    path = run_path(sweep_dir, trial_id) / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        return {"status": "pending"}
    except (OSError, ValueError):
        return {"status": "running"}  # being created: summary.json is written atomically
    found = {"status": summary.get("status", "running")}
    if found["status"] == "created":
        found["status"] = "running"
    best = summary.get("best") or {}
    if best.get("value") is not None:
        found["best"] = {"monitor": best.get("monitor"), "value": best["value"]}
    for key in ("error", "duration_s"):
        if summary.get(key) is not None:
            found[key] = summary[key]
    return found


def write_sweep(
    sweep_dir: Path, spec: SweepSpec, trials: list[Trial], records: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """records: trial id -> {status, best, error, duration_s} (what is known so far)."""
    doc = {
        "config": str(spec.config),
        **spec.identity(),
        "set": list(spec.sets),
        "seeds": list(spec.seeds),
        "metric": spec.metric,
        "target": spec.target,
        "trials": [
            {
                "id": t.id,
                "variant": t.variant,
                "overrides": list(t.overrides),
                "seed": t.seed,
                "run_dir": str(Path("runs") / t.id),
                **records.get(t.id, {"status": "pending"}),
            }
            for t in trials
        ],
    }
    atomic_write_text(sweep_dir / FILE, json.dumps(doc, indent=2) + "\n")
    return doc
