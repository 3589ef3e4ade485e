"""What gpu-mem needs to know about a config's data: shapes, classes, and how many samples
the loader keeps on the device. Read from the real data where it is here; for the
torchvision sets from their published sizes when their files are not (yet) downloaded,
since "will it fit?" is asked before the download as often as after."""

from __future__ import annotations

import torch

from mlcore.config import Config
from mlcore.data import build_data_or_published
from mlcore.data.files import PUBLISHED_SIZES
from mlcore.data.source import TensorSplit
from mlcore.errors import MlcoreError
from mlcore.memory.trace import DataSpec


def data_spec(cfg: Config) -> tuple[DataSpec, str]:
    """The spec and where it came from ("data" or a note on the published sizes)."""
    data, published = build_data_or_published(cfg.data, cfg.run.seed)
    if data is None:
        shape, _, n_train, n_test = published
        return _published(cfg), (
            f"{cfg.data.name} files not found here: using its published sizes ({n_train:,} "
            f"training and {n_test:,} test images of {' x '.join(map(str, shape))})"
        )
    gan = cfg.model.name == "gan"
    if data.task == "generation" and not gan:
        raise MlcoreError(
            f"data.name: {cfg.data.name} is a generation dataset: it trains with model.name "
            "gan, or use a classification, regression or segmentation dataset"
        )
    train = data.train
    y = train.y if isinstance(train, TensorSplit) else torch.as_tensor(train[0][1])
    resident = {
        name: len(split) if isinstance(split, TensorSplit) else 0
        for name, split in (("train", data.train), ("val", data.val), ("test", data.test))
    }
    n_out = data.num_classes if data.task != "regression" else data.target_dim
    sizes = {name: len(getattr(data, name)) for name in ("train", "val", "test")}
    spec = DataSpec(
        task=data.task,
        input_shape=tuple(data.input_shape),
        n_out=int(n_out or 1),
        num_classes=data.num_classes,
        target_dim=data.target_dim,
        target_shape=tuple(y.shape[1:]) if isinstance(train, TensorSplit) else tuple(y.shape),
        target_dtype=y.dtype,
        resident=resident,
        sizes=sizes,
        model_task="generation" if gan else data.task,
    )
    return spec, "data"


def _published(cfg: Config) -> DataSpec:
    shape, classes, n_train, n_test = PUBLISHED_SIZES[cfg.data.name]
    split = cfg.data.split
    train = round(n_train * split.train / (split.train + split.val))
    return DataSpec(
        task="classification",
        input_shape=shape,
        n_out=classes,
        num_classes=classes,
        target_dim=1,
        target_shape=(),
        target_dtype=torch.int64,
        resident={"train": train, "val": n_train - train, "test": n_test},
        sizes={"train": train, "val": n_train - train, "test": n_test},
        model_task="generation" if cfg.model.name == "gan" else "classification",
    )
