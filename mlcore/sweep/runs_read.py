"""Read run directories for `mlcore compare`: config.yaml, summary.json, metrics.csv (the csv
module: 100 runs must answer in well under 2 s, so no pandas and no torch on this path), and
name each run's variant.

In a sweep directory the variant is the trial's (sweep.json). For plain run directories the
config keys whose values differ across the runs name the variants; run.seed is the seed axis,
and run.name and the paths are ignored.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlcore.errors import MlcoreError
from mlcore.sweep.state import read_sweep

# not what a variant is: the seed axis, a label, and the CPU thread count (last digits only)
IGNORED_KEYS = ("run.seed", "run.name", "trainer.threads")


@dataclass
class Run:
    path: Path
    variant: str
    seed: int | None
    status: str  # completed, early_stopped, failed, interrupted, running, pending
    summary: dict[str, Any]
    rows: list[dict[str, str]]  # metrics.csv, one dict per epoch
    config: dict[str, Any]  # flattened: "optimizer.lr" -> 0.01

    @property
    def task(self) -> str | None:
        # the model's task first: a GAN of digits generates, though its data classify
        test = (self.summary.get("test") or {}).get("task")
        return test or (self.summary.get("data") or {}).get("task")

    @property
    def columns(self) -> list[str]:
        return list(self.rows[0]) if self.rows else []


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


# libyaml's parser where installed: a resolved config.yaml is ~60 lines, and the pure-Python
# parser takes ~3 ms for one, a third of the 1 s budget at 100 runs
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_run(
    path: Path, variant: str = "", seed: int | None = None, with_config: bool = True
) -> Run:
    """A run directory; one that has not started yet reads as `pending`, with no rows.
    with_config=False: a sweep's trial, whose variant and seed sweep.json gives."""
    summary, rows, config = {}, [], {}
    try:
        summary = json.loads((path / "summary.json").read_text())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as err:
        raise MlcoreError(f"{path / 'summary.json'}: unreadable ({err})") from None
    try:
        if with_config:
            text = (path / "config.yaml").read_text()
            config = flatten(yaml.load(text, Loader=SafeLoader) or {})  # noqa: S506 - safe
    except FileNotFoundError:
        pass
    except (OSError, yaml.YAMLError) as err:
        raise MlcoreError(f"{path / 'config.yaml'}: unreadable ({err})") from None
    if (path / "metrics.csv").exists():
        with (path / "metrics.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
    status = summary.get("status", "pending")
    status = "running" if status == "created" else status
    if seed is None and isinstance(config.get("run.seed"), int):
        seed = config["run.seed"]
    return Run(path, variant, seed, status, summary, rows, config)


def sweep_runs(sweep_dir: Path) -> tuple[list[Run], dict[str, Any]]:
    """The trials of a sweep directory, and its sweep.json (metric / target defaults)."""
    doc = read_sweep(sweep_dir)
    if doc is None:
        raise MlcoreError(f"{sweep_dir}: no sweep.json (give run directories, or a sweep dir)")
    runs = []
    for trial in doc.get("trials", []):
        run = read_run(sweep_dir / trial["run_dir"], trial["variant"], trial["seed"], False)
        if run.status == "pending" and trial.get("status") == "failed":
            run.status = "failed"  # failed before it made a run directory
        runs.append(run)
    return runs, doc


def plain_runs(paths: list[Path]) -> list[Run]:
    """Run directories of any configs: the keys that differ name the variants."""
    runs, seen = [], set()
    for path in paths:
        if path.resolve() in seen:  # a run named twice (overlapping globs) is one seed
            continue
        seen.add(path.resolve())
        if not (path / "config.yaml").is_file():
            raise MlcoreError(f"{path}: not a run directory (no config.yaml)")
        runs.append(read_run(path))
    differing = _differing_keys([r.config for r in runs])
    for run in runs:
        parts = [f"{k}={_text(run.config.get(k))}" for k in differing]
        run.variant = ",".join(parts) or str(run.config.get("run.name", "run"))
    return runs


def _differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    keys: list[str] = []
    for config in configs:
        keys += [k for k in config if k not in keys]

    def values(key: str) -> set[str]:
        return {json.dumps(c.get(key), sort_keys=True) for c in configs}

    return [k for k in keys if k not in IGNORED_KEYS and len(values(k)) > 1]


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value
