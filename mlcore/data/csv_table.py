"""`csv`: a table read from `data.path`; `data.target` names the target column.

Every other column is a numeric feature. The first row is the header. The task is
`data.task`, or when that is `auto`:
- classification if the target is not numeric (labels are its distinct strings), or if it
  holds integers only, with at most MAX_CLASSES distinct values and at least two rows per
  distinct value on average (so a 30-row file with labels 0/1/2 is classification, while a
  count column with 40 distinct values is regression);
- regression otherwise.
Classification labels become 0..K-1 in sorted order of the original values, which become the
class names. Read with the stdlib `csv` module and numpy (no pandas).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from mlcore.config import DataConfig
from mlcore.data.source import Source, classes, regression
from mlcore.errors import MlcoreError

MAX_CLASSES = 20


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise MlcoreError(f"data.path: no such CSV file: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise MlcoreError(f"{path}: needs a header row and at least one data row")
    header = [name.strip() for name in rows[0]]
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise MlcoreError(f"{path}: row {line} has {len(row)} cells, the header {len(header)}")
    return header, rows[1:]


def _numeric(values: list[str]) -> np.ndarray | None:
    """The column as float64, or None if some cell is not a finite number."""
    try:
        column = np.asarray([v.strip() for v in values], dtype=np.float64)
    except ValueError:
        return None
    return column if np.isfinite(column).all() else None


def _feature(path: Path, name: str, values: list[str], target: str) -> np.ndarray:
    column = _numeric(values)
    if column is None:
        bad = next(i for i, v in enumerate(values) if _numeric([v]) is None)
        raise MlcoreError(
            f"{path}: column {name!r} is not numeric (row {bad + 2}: {values[bad]!r}); every "
            f"column except the target {target!r} must hold finite numbers"
        )
    return column


def _is_classification(column: np.ndarray | None, task: str) -> bool:
    if task != "auto":
        return task == "classification"
    if column is None:
        return True
    distinct = len(np.unique(column))
    integers = bool((column == np.round(column)).all())
    return integers and distinct <= MAX_CLASSES and 2 * distinct <= len(column)


def _label_name(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else f"{value:g}"
    return str(value)


def csv_table(cfg: DataConfig, seed: int) -> Source:
    path = Path(str(cfg.path))
    header, rows = _read(path)
    if cfg.target not in header:
        raise MlcoreError(f"{path}: no target column {cfg.target!r}; columns: {', '.join(header)}")
    t = header.index(cfg.target)
    columns = list(zip(*rows, strict=True))
    keep = [i for i in range(len(header)) if i != t]
    if not keep:
        raise MlcoreError(f"{path}: no feature columns besides the target {cfg.target!r}")
    names = [header[i] for i in keep]
    x = np.stack([_feature(path, header[i], list(columns[i]), cfg.target) for i in keep], axis=1)
    raw = [v.strip() for v in columns[t]]
    target = _numeric(raw)
    extras = {"path": str(path), "target": cfg.target, "features": names}
    if _is_classification(target, cfg.task):
        values = target if target is not None else np.asarray(raw)
        uniques, labels = np.unique(values, return_inverse=True)
        source = classes(
            torch.from_numpy(x).float(),
            torch.from_numpy(labels.astype(np.int64)),
            cfg,
            seed,
            [_label_name(u) for u in uniques],
        )
    else:
        if target is None:
            raise MlcoreError(
                f"{path}: target column {cfg.target!r} is not numeric; "
                "data.task regression needs numbers"
            )
        source = regression(
            torch.from_numpy(x).float(), torch.from_numpy(target).float()[:, None], cfg, seed
        )
    source.extras = extras
    return source
