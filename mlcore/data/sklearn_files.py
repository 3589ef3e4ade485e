"""The toy sets that scikit-learn ships as files (sklearn/datasets/data/), read without
importing scikit-learn.

Importing it takes about 0.8 s (sklearn 1.9 with torch already loaded, one thread: it
imports scipy), where reading the 1,797 digits takes 0.01 s; `mlcore gpu-mem` on a digits
config spent a fifth of its time there. The files are read as sklearn's own loaders read
them (`load_csv_data`, `load_gzip_compressed_csv_data`; tests/test_data.py compares the
arrays with sklearn's, value for value). Where a file is not where sklearn keeps it (a
future layout), sklearn's loader reads it.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILES = {
    "iris": "iris.csv",
    "wine": "wine_data.csv",
    "breast_cancer": "breast_cancer.csv",
    "digits": "digits.csv.gz",
}


@dataclass(frozen=True)
class Table:
    """What `sklearn.datasets.load_<name>()` returns that mlcore uses."""

    data: np.ndarray  # float64 [N, F]; digits: F = 64 pixels of an 8 x 8 image, row-major
    target: np.ndarray  # int [N], class indices
    target_names: list[str]


def load(name: str) -> Table:
    """The set `name` (a key of FILES)."""
    path = _data_dir() / FILES[name]
    if not path.is_file():
        return _from_sklearn(name)
    return _digits(path) if name == "digits" else _csv(path)


def load_diabetes() -> tuple[np.ndarray, np.ndarray]:
    """`load_diabetes()`'s (data float64 [442, 10], target float64 [442]): the raw features
    centred and scaled to unit variance per column as `sklearn.preprocessing.scale` does
    (with its two checks that the centred mean is zero), then divided by sqrt(442)."""
    folder = _data_dir()
    raw, target = folder / "diabetes_data_raw.csv.gz", folder / "diabetes_target.csv.gz"
    if not (raw.is_file() and target.is_file()):
        from sklearn import datasets

        bunch = datasets.load_diabetes()
        return bunch.data, bunch.target
    data = _gz_table(raw)
    mean, std = np.nanmean(data, axis=0), np.nanstd(data, axis=0)
    data -= mean
    _recentre(data)
    std[std < 10 * np.finfo(std.dtype).eps] = 1.0  # sklearn's _handle_zeros_in_scale
    data /= std
    _recentre(data)
    data /= data.shape[0] ** 0.5
    return data, _gz_table(target)


def _recentre(data: np.ndarray) -> None:
    """`scale`'s correction where float error left a column's mean away from zero."""
    mean = np.nanmean(data, axis=0)
    if not np.allclose(mean, 0):
        data -= mean


def _data_dir() -> Path:
    """sklearn/datasets/data, found without running sklearn's `__init__`."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return Path("/nonexistent")  # not installed: sklearn's import says so
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def _csv(path: Path) -> Table:
    """load_csv_data: a header `n_samples,n_features,name0,name1,...`, then one row per
    sample, its features and its class index last."""
    with path.open("r", encoding="utf-8") as file:
        rows = csv.reader(file)
        head = next(rows)
        data = np.empty((int(head[0]), int(head[1])))
        target = np.empty((int(head[0]),), dtype=int)
        for i, row in enumerate(rows):
            data[i] = np.asarray(row[:-1], dtype=np.float64)
            target[i] = np.asarray(row[-1], dtype=int)
    return Table(data, target, head[2:])


def _digits(path: Path) -> Table:
    """load_digits: no header; 64 pixel values (0..16), then the digit."""
    data = _gz_table(path, delimiter=",")
    return Table(data[:, :-1], data[:, -1].astype(int), [str(d) for d in range(10)])


def _gz_table(path: Path, **kwargs) -> np.ndarray:
    """load_gzip_compressed_csv_data: np.loadtxt of the decompressed text."""
    with gzip.open(path, mode="rt", encoding="utf-8") as text:
        return np.loadtxt(text, **kwargs)


def _from_sklearn(name: str) -> Table:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    return Table(bunch.data, bunch.target, [str(n) for n in bunch.target_names])
