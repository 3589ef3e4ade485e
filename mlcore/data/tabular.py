"""A table's columns as they come: each gets a type, then an encoding fitted on training rows.

Types are decided on the whole file (what a column *is*, not a statistic of it):
- numeric: pandas parsed it as numbers;
- categorical: text, or any column that `data.categorical` lists;
- ignored: `data.drop`, or ID-like: at least MIN_ID_ROWS values, all distinct, and text or
  whole numbers (a row number, a name); float measurements are never ID-like.
Refused, all at once: a mostly numeric column with a few other cells (a missing-value marker
that `data.na_values` should name), free text (most values distinct), more than
MAX_CATEGORIES categories.

Fitted on the training rows only (`fit`): a numeric column's median, which fills its gaps,
and a 0/1 `<col>_missing` column where the training rows have gaps; a categorical column's
categories, one-hot encoded as `<col>=<category>`, plus `<col>_missing` (the missing
category) where the training rows have gaps. A category that training never saw, or a gap
where training had none, encodes as an all-zero block and is counted. The fitted state is
plain data (names, strings, floats), saved in checkpoints and applied by `encode`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_ID_ROWS = 20
FREE_TEXT_SHARE = 0.5  # more distinct values than this share of the cells: free text
MAX_CATEGORIES = 1000  # one-hot width past this: a float32 [N, K] block too big to be useful
NUMERIC_SHARE = 0.5  # a text column with more number cells than this is numbers with a typo
CHUNK = 8192  # rows encoded at a time (see encode)


@dataclass
class Column:
    """One feature column as read: numbers (NaN missing) or codes into labels (-1 missing)."""

    name: str
    kind: str  # numeric | categorical
    values: np.ndarray | None = None  # numeric: float64 [N]
    codes: np.ndarray | None = None  # categorical: int64 [N] into labels
    labels: list[str] | None = None  # categorical: distinct values, stripped, sorted

    def missing(self) -> np.ndarray:
        return np.isnan(self.values) if self.kind == "numeric" else self.codes < 0

    def take(self, rows: np.ndarray) -> Column:
        if self.kind == "numeric":
            return Column(self.name, "numeric", values=self.values[rows])
        return Column(self.name, "categorical", codes=self.codes[rows], labels=self.labels)


def label_name(value: float) -> str:
    """A number as a category name: 3.0 -> "3", 0.25 -> "0.25"."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def is_numeric(series: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series.dtype)) and series.dtype != bool


def categorical(name: str, series: Any) -> Column:
    """Codes and sorted labels; the labels are factorized first, so that stripping and
    naming touch each distinct value once, not each of a million cells."""
    import pandas as pd

    if is_numeric(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        seen = ~np.isnan(values)
        uniques, inverse = np.unique(values[seen], return_inverse=True)
        codes = np.full(len(values), -1, dtype=np.int64)
        codes[seen] = inverse
        return Column(name, "categorical", codes=codes, labels=[label_name(u) for u in uniques])
    codes, uniques = pd.factorize(series)
    stripped = [str(u).strip() for u in uniques]
    labels = sorted({s for s in stripped if s})
    index = {s: i for i, s in enumerate(labels)}
    remap = np.array([index.get(s, -1) for s in stripped] + [-1], dtype=np.int64)
    return Column(name, "categorical", codes=remap[codes], labels=labels)


def numeric(name: str, series: Any) -> Column:
    return Column(name, "numeric", values=series.to_numpy(dtype=np.float64, na_value=np.nan))


def type_column(name: str, series: Any, listed: bool) -> tuple[Column | None, str | None]:
    """(the column, None), (None, why it is ignored) or (None, "problem: ...")."""
    if not listed and is_numeric(series):
        col = numeric(name, series)
        v = col.values[~np.isnan(col.values)]
        whole = len(v) >= MIN_ID_ROWS and bool(np.all(v == np.round(v)))
        if whole and len(np.unique(v)) == len(v):
            return None, f"ID-like: all {len(v)} values distinct whole numbers"
        return col, None
    col = categorical(name, series)
    counts = np.bincount(col.codes[col.codes >= 0], minlength=len(col.labels))
    n, k = int(counts.sum()), len(col.labels)
    if listed:
        return (col, None) if k <= MAX_CATEGORIES else (None, _too_many(name, k))
    return _text_verdict(col, counts, n, k)


def _text_verdict(col: Column, counts: np.ndarray, n: int, k: int) -> tuple[Column | None, str]:
    number = np.array([_is_number(s) for s in col.labels], dtype=bool)
    if k and counts[number].sum() > NUMERIC_SHARE * n:
        bad = np.nonzero(~number)[0]
        row = int(np.nonzero(np.isin(col.codes, bad))[0][0])
        shown = ", ".join(repr(col.labels[b]) for b in bad[:3])
        k = int(counts[bad].sum())
        return None, (
            f"problem: column {col.name!r} holds numbers except in {k} cell{'s' * (k > 1)} "
            f"({shown}; first in data row {row + 1}): if they mean missing, add them to "
            f"data.na_values; if the column is categorical, list it in data.categorical"
        )
    if n >= MIN_ID_ROWS and k == n:
        return None, f"ID-like: all {n} values distinct"
    if n >= MIN_ID_ROWS and k > FREE_TEXT_SHARE * n:
        return None, (
            f"problem: column {col.name!r} looks like free text ({k} distinct values in {n} "
            f"cells), not categories: add it to data.drop"
        )
    if k > MAX_CATEGORIES:
        return None, _too_many(col.name, k)
    return col, ""


def _too_many(name: str, k: int) -> str:
    return (
        f"problem: column {name!r} has {k} distinct values, more than {MAX_CATEGORIES} "
        "categories to one-hot encode: add it to data.drop"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def fit(columns: list[Column], train: np.ndarray) -> list[dict[str, Any]]:
    """Per column, what the training rows (`train`, indices) say: plain data."""
    fitted = []
    for col in columns:
        gaps = bool(col.missing()[train].any())
        if col.kind == "numeric":
            v = col.values[train]
            v = v[~np.isnan(v)]
            median = float(np.median(v)) if len(v) else 0.0
            fitted.append({"name": col.name, "kind": "numeric", "median": median, "gaps": gaps})
        else:
            seen = np.unique(col.codes[train])
            categories = [col.labels[c] for c in seen if c >= 0]
            fitted.append(
                {"name": col.name, "kind": "categorical", "categories": categories, "gaps": gaps}
            )
    return fitted


def feature_names(fitted: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for f in fitted:
        if f["kind"] == "numeric":
            names.append(f["name"])
        else:
            names.extend(f"{f['name']}={c}" for c in f["categories"])
        if f["gaps"]:
            names.append(f"{f['name']}_missing")
    return names


def encode(
    columns: list[Column], fitted: list[dict[str, Any]], order: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(x float32 [N, F] in feature_names order, its row i the file's row order[i]; per
    categorical column a bool [N] mask, in file order, of cells that encode as all-zero:
    unseen categories, or gaps training did not have).

    Written CHUNK rows at a time: a column of x is strided (F floats apart), and writing
    it whole touches a cache line per row for each of the F columns; a [CHUNK, F] block
    stays in cache while every column is gathered into it, so that neither a permuted
    copy of each column nor a gather of x is needed."""
    width = len(feature_names(fitted))
    dense, hot, unseen = _planes(columns, fitted)
    x = np.empty((len(order), width), dtype=np.float32)
    for start in range(0, len(order), CHUNK):
        rows = order[start : start + CHUNK]
        block = x[start : start + CHUNK]
        block.fill(0.0)
        for j, v, median in dense:
            cells = v[rows]
            if median is not None:
                cells[np.isnan(cells)] = median
            block[:, j] = cells
        flat = block.reshape(-1)  # a view: the block's rows are contiguous
        for j, at in hot:
            a = at[rows]
            r = np.nonzero(a >= 0)[0]
            flat[r * width + j + a[r]] = 1.0
    return x, unseen


def _planes(columns: list[Column], fitted: list[dict[str, Any]]) -> tuple[list, list, dict]:
    """(dense columns [(j, values [N], the median that fills a NaN, or None for a 0/1
    mask)], one-hot blocks [(first j, category index [N], -1 for none)], all-zero masks)."""
    dense: list[tuple[int, np.ndarray, float | None]] = []
    hot: list[tuple[int, np.ndarray]] = []
    unseen: dict[str, np.ndarray] = {}
    j = 0
    for col, f in zip(columns, fitted, strict=True):
        if f["kind"] == "numeric":
            dense.append((j, col.values, f["median"]))
            j += 1
        else:
            index = {c: i for i, c in enumerate(f["categories"])}
            lut = np.array([index.get(label, -1) for label in col.labels] + [-1], dtype=np.int64)
            at = lut[col.codes]  # a gap's code -1 picks the last entry
            hot.append((j, at))
            # a gap counts as all-zero only where training had none (else: its _missing)
            unseen[col.name] = (at < 0) & ~col.missing() if f["gaps"] else at < 0
            j += len(index)
        if f["gaps"]:
            dense.append((j, col.missing(), None))
            j += 1
    return dense, hot, unseen
