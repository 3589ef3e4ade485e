"""DATASETS: every data set by its config name (`data.name`), and the one lookup.

A loader takes the data config and the run seed and returns a `Source`: its three raw splits
(before deduplication and normalization, which `build_data` applies to all alike).
"""

from __future__ import annotations

from collections.abc import Callable

from mlcore.config import DataConfig
from mlcore.data import csv_table, digit_seg, files, sklearn_sets, synthetic
from mlcore.data.source import Source
from mlcore.errors import MlcoreError

Loader = Callable[[DataConfig, int], Source]

DATASETS: dict[str, Loader] = {
    "line": synthetic.line,
    "moons": synthetic.moons,
    "circles": synthetic.circles,
    "spirals": synthetic.spirals,
    "gaussian_ring": synthetic.gaussian_ring,
    "gaussian_grid": synthetic.gaussian_grid,
    "iris": sklearn_sets.iris,
    "wine": sklearn_sets.wine,
    "breast_cancer": sklearn_sets.breast_cancer,
    "diabetes": sklearn_sets.diabetes,
    "digits": sklearn_sets.digits,
    "digit_seg": digit_seg.digit_seg,
    "mnist": files.mnist,
    "fashion_mnist": files.fashion_mnist,
    "cifar10": files.cifar10,
    "image_folder": files.image_folder,
    "csv": csv_table.csv_table,
}


def get_dataset(name: str) -> Loader:
    """The loader for `name`; an unknown name is an MlcoreError listing the valid ones."""
    try:
        return DATASETS[name]
    except KeyError:
        valid = ", ".join(DATASETS)
        raise MlcoreError(f"data.name: unknown dataset {name!r}; valid: {valid}") from None
