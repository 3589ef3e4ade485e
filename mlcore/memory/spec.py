"""What gpu-mem needs to know about a config's data: shapes, classes, and how many samples
the loader keeps on the device. Read from the real data where it is here; for the
torchvision sets from their published sizes when their files are not (yet) downloaded,
since "will it fit?" is asked before the download as often as after."""

from __future__ import annotations

import torch

from mlcore.config import Config
from mlcore.data import build_data
from mlcore.data.source import TensorSplit
from mlcore.errors import MlcoreError
from mlcore.memory.trace import DataSpec

# name -> (input shape, classes, official train size, official test size)
PUBLISHED = {
    "mnist": ((1, 28, 28), 10, 60_000, 10_000),
    "fashion_mnist": ((1, 28, 28), 10, 60_000, 10_000),
    "cifar10": ((3, 32, 32), 10, 50_000, 10_000),
}


def data_spec(cfg: Config) -> tuple[DataSpec, str]:
    """The spec and where it came from ("data" or a note on the published sizes)."""
    try:
        data = build_data(cfg.data, seed=cfg.run.seed)
    except MlcoreError:
        if cfg.data.name not in PUBLISHED:
            raise
        return _published(cfg), f"{cfg.data.name} files not found: its published sizes"
    if data.task not in ("classification", "regression", "segmentation"):
        raise MlcoreError(
            f"data.name: {cfg.data.name} is a {data.task} dataset; gpu-mem traces the "
            "classification, regression and segmentation training step"
        )
    train = data.train
    y = train.y if isinstance(train, TensorSplit) else torch.as_tensor(train[0][1])
    resident = {
        name: len(split) if isinstance(split, TensorSplit) else 0
        for name, split in (("train", data.train), ("val", data.val), ("test", data.test))
    }
    n_out = data.num_classes if data.task != "regression" else data.target_dim
    spec = DataSpec(
        task=data.task,
        input_shape=tuple(data.input_shape),
        n_out=int(n_out),
        num_classes=data.num_classes,
        target_dim=data.target_dim,
        target_shape=tuple(y.shape[1:]) if isinstance(train, TensorSplit) else tuple(y.shape),
        target_dtype=y.dtype,
        resident=resident,
    )
    return spec, "data"


def _published(cfg: Config) -> DataSpec:
    shape, classes, n_train, n_test = PUBLISHED[cfg.data.name]
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
    )
