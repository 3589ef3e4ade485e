"""Data: the DATASETS table, build_data (split, guard, normalize) and the batch loader."""

from mlcore.data.bundle import DataBundle, build_data, build_data_or_published
from mlcore.data.guard import find_duplicates
from mlcore.data.loader import BatchLoader, make_loader
from mlcore.data.registry import DATASETS, get_dataset
from mlcore.data.source import IndexedSplit, TensorSplit

__all__ = [
    "DATASETS",
    "BatchLoader",
    "DataBundle",
    "IndexedSplit",
    "TensorSplit",
    "build_data",
    "build_data_or_published",
    "find_duplicates",
    "get_dataset",
    "make_loader",
]
