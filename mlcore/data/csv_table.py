"""`csv`: a table read from `data.path`; `data.target` names the target column.

Read as it comes (csv_read.py: delimiter sniffed, header required, `NA` `?` empty cells
missing); every other column typed and encoded by tabular.py. The order is what keeps the
held-out rows out of every fitted number: rows without a target are dropped (and counted),
then (`data.missing: drop`) rows with a gap; then the split is drawn, exactly as for any
pool of samples (stratified, seeded); only then is the encoding fitted, on the training
rows, and applied to all. Every problem of the file is collected and refused in one error.

The task is `data.task`, or when that is `auto`:
- classification if the target is not numeric (labels are its distinct strings), or listed
  in `data.categorical`, or holds integers only, with at most MAX_CLASSES distinct values
  and at least two rows per distinct value on average (so a 30-row file with labels 0/1/2
  is classification, while a count column with 40 distinct values is regression);
- regression otherwise.
Classification labels become 0..K-1 in sorted order of the original values, which become the
class names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlcore.config import DataConfig
from mlcore.data import tabular
from mlcore.data.csv_notes import notes
from mlcore.data.csv_read import delimiter_name, header_problems, read_table
from mlcore.data.source import Source, TensorSplit
from mlcore.data.split import split_indices
from mlcore.errors import MlcoreError

MAX_CLASSES = 20


def refuse(path: Path, problems: list[str]) -> MlcoreError:
    if len(problems) == 1:
        return MlcoreError(f"{path}: {problems[0]}")
    listed = "; ".join(f"({i}) {p}" for i, p in enumerate(problems, start=1))
    return MlcoreError(f"{path}: {len(problems)} problems: {listed}")


def _listed_problems(cfg: DataConfig, names: list[str]) -> list[str]:
    problems = []
    if cfg.target not in names:
        problems.append(f"no target column {cfg.target!r}; columns: {', '.join(names)}")
    for key in ("categorical", "drop"):
        unknown = [c for c in getattr(cfg, key) if c not in names]
        if unknown:
            problems.append(f"data.{key}: no column {', '.join(map(repr, unknown))} in the file")
    if cfg.target in cfg.drop:
        problems.append(f"data.drop lists the target {cfg.target!r}")
    if cfg.target in cfg.categorical and cfg.task == "regression":
        problems.append(f"data.categorical lists the target {cfg.target!r}, data.task regression")
    return problems


def _typed(
    frame: Any, cfg: DataConfig, fitted: dict[str, Any] | None
) -> tuple[list[tabular.Column], dict[str, str], list[str]]:
    """(feature columns, ignored column -> why, problems). With `fitted` (a checkpoint's
    encoding) the types are the saved ones, not inferred again."""
    if fitted is not None:
        return _typed_as(frame, fitted)
    columns, ignored, problems = [], {}, []
    for name in frame.columns:
        if name == cfg.target:
            continue
        if name in cfg.drop:
            ignored[name] = "data.drop"
            continue
        col, why = tabular.type_column(name, frame[name], name in cfg.categorical)
        if col is not None:
            columns.append(col)
        elif why.startswith("problem: "):
            problems.append(why.removeprefix("problem: "))
        else:
            ignored[name] = why
    return columns, ignored, problems


def _typed_as(frame: Any, fitted: dict[str, Any]) -> tuple[list, dict[str, str], list[str]]:
    columns, problems = [], []
    for f in fitted["columns"]:
        name = f["name"]
        if name not in frame.columns:
            problems.append(f"no column {name!r}, which the run's saved encoding needs")
        elif f["kind"] == "numeric" and not tabular.is_numeric(frame[name]):
            problems.append(f"column {name!r} was numeric when the run trained, now it is not")
        elif f["kind"] == "numeric":
            columns.append(tabular.numeric(name, frame[name]))
        else:
            columns.append(tabular.categorical(name, frame[name]))
    return columns, dict(fitted["ignored"]), problems


def _is_classification(column: np.ndarray | None, cfg: DataConfig) -> bool:
    if cfg.task != "auto":
        return cfg.task == "classification"
    if column is None or cfg.target in cfg.categorical:
        return True
    distinct = len(np.unique(column))
    integers = bool((column == np.round(column)).all())
    return integers and distinct <= MAX_CLASSES and 2 * distinct <= len(column)


def _target(series: Any) -> tuple[np.ndarray | None, tabular.Column | None, np.ndarray]:
    """(numbers or None, the text column or None, the missing mask)."""
    if tabular.is_numeric(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, None, np.isnan(values)
    col = tabular.categorical("target", series)
    return None, col, col.codes < 0


def _labels(
    path: Path, cfg: DataConfig, values: np.ndarray | None, text: tabular.Column | None
) -> tuple[str, torch.Tensor, list[str] | None]:
    """(task, y, class names): y int64 [N] for classification, float32 [N, 1] otherwise."""
    if _is_classification(values, cfg):
        if values is None:
            uniques, labels = np.unique(text.codes, return_inverse=True)
            names = [text.labels[u] for u in uniques]
        else:
            uniques, labels = np.unique(values, return_inverse=True)
            names = [tabular.label_name(u) for u in uniques]
        return "classification", torch.from_numpy(labels.astype(np.int64)), names
    if values is None:
        raise MlcoreError(
            f"{path}: target column {cfg.target!r} is not numeric; "
            "data.task regression needs numbers"
        )
    # a copy: pandas hands out read-only arrays (copy-on-write)
    return "regression", torch.tensor(values, dtype=torch.float32)[:, None], None


def csv_table(cfg: DataConfig, seed: int, fitted: dict[str, Any] | None = None) -> Source:
    """The Source of `cfg.path`; `fitted`: a checkpoint's saved encoding, applied as it is."""
    path = Path(str(cfg.path))
    frame, sep = read_table(path, cfg.delimiter, cfg.na_values)
    problems = header_problems(frame, sep)
    if problems:  # the columns below would be misread, not wrong
        raise refuse(path, problems)
    problems = _listed_problems(cfg, list(frame.columns))
    columns, ignored, typing = _typed(frame, cfg, fitted)
    problems += typing
    if not problems and not columns:
        left = "".join(f"; {name}: {why}" for name, why in ignored.items())
        problems.append(f"no feature columns besides the target {cfg.target!r}{left}")
    if problems:
        raise refuse(path, problems)
    values, text, no_target = _target(frame[cfg.target])
    keep = ~no_target
    gaps = np.zeros(len(keep), dtype=bool)
    if cfg.missing == "drop":
        for col in columns:
            gaps |= col.missing()
    keep &= ~gaps
    if not keep.any():
        why = "a target" if no_target.all() else "no gap (data.missing: drop)"
        raise MlcoreError(f"{path}: no row has {why}")
    if not keep.all():  # a gather per column: only when rows go
        rows = np.nonzero(keep)[0]
        columns = [c.take(rows) for c in columns]
        values = None if values is None else values[rows]
        text = None if text is None else text.take(rows)
    task, y, names = _labels(path, cfg, values, text)
    source, fitted_columns, unseen = _split_and_encode(cfg, seed, columns, task, y, names, fitted)
    state = {
        "kind": "tabular",
        "target": cfg.target,
        "delimiter": delimiter_name(sep),
        "na_values": [str(v) for v in cfg.na_values],
        "missing": cfg.missing,
        "columns": fitted_columns,
        "ignored": ignored,
        "features": tabular.feature_names(fitted_columns),
    }
    source.preprocessing = state
    dropped = {"no_target": int(no_target.sum()), "gaps": int((gaps & ~no_target).sum())}
    lines = notes(state, columns, dropped, unseen, "checkpoint" if fitted else "train")
    source.extras = {
        "path": str(path),
        "target": cfg.target,
        "features": state["features"],
        "preprocessing": {"rows_dropped": dropped, "unseen": unseen, "notes": lines},
    }
    return source


def _split_and_encode(
    cfg: DataConfig,
    seed: int,
    columns: list[tabular.Column],
    task: str,
    y: torch.Tensor,
    names: list[str] | None,
    fitted: dict[str, Any] | None,
) -> tuple[Source, list[dict[str, Any]], dict[str, dict[str, int]]]:
    """The split drawn first (as `pool_splits` draws it), the encoding fitted on its
    training rows (unless given), then applied to every row. The rows are encoded in split
    order (train, val, test), so that each split is a slice of one x [N, F] and no gather
    copies it again."""
    fractions = (cfg.split.train, cfg.split.val, cfg.split.test)
    stratify = task == "classification" and cfg.stratify
    parts = split_indices(int(y.shape[0]), fractions, seed, y if stratify else None)
    order = torch.cat(parts).numpy()
    encoding = fitted["columns"] if fitted is not None else tabular.fit(columns, parts[0].numpy())
    x, zero = tabular.encode(columns, encoding, order)
    features, labels = torch.from_numpy(x), y[torch.from_numpy(order)]
    ends = np.cumsum([len(p) for p in parts])
    bounds = list(zip((0, *ends[:2]), ends, strict=True))
    train, val, test = (TensorSplit(features[a:b], labels[a:b]) for a, b in bounds)
    unseen = {
        split: {c: int(m[i.numpy()].sum()) for c, m in zero.items() if m[i.numpy()].any()}
        for split, i in zip(("train", "val", "test"), parts, strict=True)
    }
    if task == "classification":
        source = Source(task, train, val, test, len(names), names)
    else:
        source = Source(task, train, val, test, target_dim=1)
    return source, encoding, unseen
