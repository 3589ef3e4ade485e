"""Image data sets read from files under `data.root`: MNIST, Fashion-MNIST, CIFAR-10 through
torchvision (loaded whole into memory) and `image_folder` (lazy, one subfolder per class).

The official test set is the test split; validation is carved from the official training set
with fraction val / (train + val), stratified when `data.stratify`. Nothing downloads unless
`data.download` is true.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from mlcore.config import DataConfig
from mlcore.data.source import IndexedSplit, Source, TensorSplit
from mlcore.data.split import carve_fractions, split_indices
from mlcore.errors import MlcoreError

DEFAULT_ROOT = "data"
# name -> (input shape, classes, official train size, official test size): what a model or
# a memory estimate needs before the files are downloaded
PUBLISHED_SIZES = {
    "mnist": ((1, 28, 28), 10, 60_000, 10_000),
    "fashion_mnist": ((1, 28, 28), 10, 60_000, 10_000),
    "cifar10": ((3, 32, 32), 10, 50_000, 10_000),
}
# torchvision's own layout under data.root: where each set's files must be
LAYOUT = {
    "MNIST": "MNIST/raw",
    "FashionMNIST": "FashionMNIST/raw",
    "CIFAR10": "cifar-10-batches-py",
}


# torchvision is imported where a file dataset is opened, not with this module: importing
# it costs about a second (it loads torch._dynamo), which every other dataset would pay.


def _open(kind: type, name: str, cfg: DataConfig, train: bool):
    root = Path(cfg.root or DEFAULT_ROOT)
    where = root / LAYOUT[kind.__name__]
    try:
        return kind(str(root), train=train, download=cfg.download)
    except (RuntimeError, OSError) as err:  # torchvision: not found, corrupted or no network
        if cfg.download:
            raise MlcoreError(f"data: could not download {name} into {where}: {err}") from None
        raise MlcoreError(
            f"data: {name} files not found (or corrupted) in {where}; pass "
            f"--set data.download=true to download them there, or set data.root to the folder "
            f"that holds {LAYOUT[kind.__name__]}"
        ) from None


def _with_official_test(
    train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], cfg: DataConfig, seed: int
) -> tuple[TensorSplit, TensorSplit, TensorSplit]:
    x, y = train
    labels = y if cfg.stratify else None
    fractions = carve_fractions((cfg.split.train, cfg.split.val, cfg.split.test))
    train_idx, val_idx, _ = split_indices(len(y), fractions, seed, labels)
    train_split = TensorSplit(x[train_idx], y[train_idx])
    return train_split, TensorSplit(x[val_idx], y[val_idx]), TensorSplit(*test)


def _torchvision(kind: type, name: str, cfg: DataConfig, seed: int) -> Source:
    parts = []
    for train in (True, False):
        ds = _open(kind, name, cfg, train)
        if isinstance(ds.data, np.ndarray):  # CIFAR: [N, H, W, C] uint8
            x = torch.from_numpy(ds.data).permute(0, 3, 1, 2)
        else:  # MNIST: [N, H, W] uint8
            x = ds.data[:, None]
        parts.append((x.float().div_(255.0), torch.as_tensor(ds.targets, dtype=torch.int64)))
    splits = _with_official_test(parts[0], parts[1], cfg, seed)
    extras = {"test_split": "official test set; data.split.test is not used"}
    names = [str(c) for c in ds.classes]
    return Source("classification", *splits, len(names), names, extras=extras)


def mnist(cfg: DataConfig, seed: int) -> Source:
    from torchvision import datasets

    return _torchvision(datasets.MNIST, "mnist", cfg, seed)


def fashion_mnist(cfg: DataConfig, seed: int) -> Source:
    from torchvision import datasets

    return _torchvision(datasets.FashionMNIST, "fashion_mnist", cfg, seed)


def cifar10(cfg: DataConfig, seed: int) -> Source:
    from torchvision import datasets

    return _torchvision(datasets.CIFAR10, "cifar10", cfg, seed)


class ToSize:
    """PIL image -> float tensor [C, H, W] in [0, 1], resized to one size for every image
    (a batch needs equal shapes). A module-level class so DataLoader workers can pickle it."""

    def __init__(self, width: int, height: int):
        self.size = (width, height)

    def __call__(self, image: Image.Image) -> Tensor:
        if image.size != self.size:
            image = image.resize(self.size, Image.Resampling.BILINEAR)
        import torchvision.transforms.functional as TF

        return TF.to_tensor(image)


def image_folder(cfg: DataConfig, seed: int) -> Source:
    """root/<class>/<image>: classes in sorted folder order, every image converted to RGB and
    resized to the size of the first image found."""
    if cfg.root is None:
        raise MlcoreError("data.root: image_folder needs a folder with one subfolder per class")
    try:
        from torchvision import datasets

        ds = datasets.ImageFolder(cfg.root)
    except (FileNotFoundError, OSError) as err:
        raise MlcoreError(f"data.root {cfg.root}: {err}") from None
    width, height = ds.loader(ds.samples[0][0]).size
    ds.transform = ToSize(width, height)
    targets = torch.as_tensor(ds.targets, dtype=torch.int64)
    fractions = (cfg.split.train, cfg.split.val, cfg.split.test)
    parts = split_indices(len(targets), fractions, seed, targets if cfg.stratify else None)
    splits = [IndexedSplit(ds, idx, targets[idx]) for idx in parts]
    extras = {"root": str(cfg.root), "image_size": [height, width]}
    return Source(
        "classification",
        *splits,
        num_classes=len(ds.classes),
        class_names=list(ds.classes),
        input_shape=(3, height, width),
        extras=extras,
    )
