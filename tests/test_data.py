"""Every entry of DATASETS loads offline (file-based sets from tiny files written here in their
real formats), with the right shapes, classes, split sizes and class balance, deterministically."""

from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets.cifar
from PIL import Image

from mlcore.config import DATASET_NAMES, DataConfig, SplitConfig
from mlcore.config.schema import SchemaError
from mlcore.data import DATASETS, TensorSplit, build_data, get_dataset, sklearn_files
from mlcore.data.source import labels_of
from mlcore.errors import MlcoreError

FIXED_TEST = {"mnist", "fashion_mnist", "cifar10"}  # official test set; val carved from train
N_TRAIN_FILES, N_TEST_FILES = 60, 20

EXPECTED = {  # name: (task, input_shape, num_classes)
    "line": ("regression", (1,), None),
    "moons": ("classification", (2,), 2),
    "circles": ("classification", (2,), 2),
    "spirals": ("classification", (2,), 3),
    "gaussian_ring": ("generation", (2,), None),
    "gaussian_grid": ("generation", (2,), None),
    "iris": ("classification", (4,), 3),
    "wine": ("classification", (13,), 3),
    "breast_cancer": ("classification", (30,), 2),
    "diabetes": ("regression", (10,), None),
    "digits": ("classification", (1, 8, 8), 10),
    "digit_seg": ("segmentation", (1, 32, 32), 11),
    "mnist": ("classification", (1, 28, 28), 10),
    "fashion_mnist": ("classification", (1, 28, 28), 10),
    "cifar10": ("classification", (3, 32, 32), 10),
    "image_folder": ("classification", (3, 8, 8), 2),
    "csv": ("classification", (2,), 3),
}


# ---- tiny files in the real formats -------------------------------------------------------


def write_idx(folder: Path, prefix: str, n: int, seed: int) -> None:
    """MNIST's IDX format, uncompressed, as torchvision reads it from <root>/MNIST/raw."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    header = struct.pack(">IIII", 0x0803, n, 28, 28)  # magic: ubyte (0x08), 3 dims
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
        struct.pack(">II", 0x0801, n) + labels.tobytes()
    )


def write_mnist(root: Path, kind: str = "MNIST") -> None:
    write_idx(root / kind / "raw", "train", N_TRAIN_FILES, seed=1)
    write_idx(root / kind / "raw", "t10k", N_TEST_FILES, seed=2)


def write_cifar(root: Path) -> None:
    """CIFAR-10's python pickles: five training batches, a test batch and the class names."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        n = N_TEST_FILES if name == "test_batch" else N_TRAIN_FILES // 5
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)  # rows: R, G, B planes
        entry = {"data": data, "labels": [(i + k) % 10 for k in range(n)]}
        (folder / name).write_bytes(pickle.dumps(entry))
    meta = {"label_names": [f"class{k}" for k in range(10)]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))


def write_images(root: Path, per_class: int = 12, copies: int = 0) -> None:
    """root/<class>/*.png, 8x8 RGB, one 10x6 image (resized on load), `copies` exact repeats."""
    rng = np.random.default_rng(4)
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            shape = (6, 10, 3) if (label, i) == ("dog", 0) else (8, 8, 3)
            pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    for i in range(copies):
        (root / "cat" / f"copy{i}.png").write_bytes((root / "cat" / "1.png").read_bytes())


def write_csv(path: Path, rows: int = 60) -> None:
    rng = np.random.default_rng(5)
    lines = ["f1,f2,label"] + [
        f"{rng.normal():.6f},{rng.normal() * 3 + 1:.6f},{i % 3 * 2 + 3}" for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def make_cfg(tmp_path, monkeypatch):
    """name -> a small DataConfig for it, writing the files it needs under tmp_path."""
    # torchvision checks CIFAR files against the real data's md5 sums; keep the existence check
    monkeypatch.setattr(
        torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path)
    )

    def make(name: str, **overrides) -> DataConfig:
        root = tmp_path / name
        fields: dict = {"n_samples": 200 if name != "digit_seg" else 60}
        if name in ("mnist", "fashion_mnist", "cifar10", "image_folder"):
            fields["root"] = str(root)
            if not root.exists():
                {
                    "mnist": lambda: write_mnist(root),
                    "fashion_mnist": lambda: write_mnist(root, "FashionMNIST"),
                    "cifar10": lambda: write_cifar(root),
                    "image_folder": lambda: write_images(root),
                }[name]()
        if name == "csv":
            fields.update(path=str(tmp_path / "table.csv"), target="label")
            write_csv(tmp_path / "table.csv")
        return DataConfig(name=name, **{**fields, **overrides})

    return make


# ---- every data set ----------------------------------------------------------------------


def test_registry_matches_config_names():
    assert tuple(DATASETS) == DATASET_NAMES


def test_unknown_name_lists_valid_names():
    with pytest.raises(MlcoreError, match="unknown dataset 'mnits'.*valid: line, moons"):
        get_dataset("mnits")


def _x(split) -> torch.Tensor:
    return split.x if isinstance(split, TensorSplit) else torch.stack([s[0] for s in split])


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_loads_with_shapes_and_classes(name, make_cfg):
    bundle = build_data(make_cfg(name), seed=0)
    task, shape, num_classes = EXPECTED[name]
    assert (bundle.task, bundle.input_shape, bundle.num_classes) == (task, shape, num_classes)
    for split in (bundle.train, bundle.val, bundle.test):
        x, y = _x(split), labels_of(split)
        assert x.dtype == torch.float32 and tuple(x.shape[1:]) == shape
        assert len(y) == len(x) > 0
        if task == "regression":
            assert y.dtype == torch.float32 and y.shape == (len(x), bundle.target_dim)
        else:
            assert y.dtype == torch.int64
            assert y.shape == ((len(x), 32, 32) if task == "segmentation" else (len(x),))
        if num_classes is not None:
            assert int(y.min()) >= 0 and int(y.max()) < num_classes
    assert bundle.class_names is None or len(bundle.class_names) == num_classes
    json.dumps(bundle.info)  # goes into summary.json as it is


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_deterministic_for_a_seed(name, make_cfg):
    cfg = make_cfg(name)
    a, b, other = build_data(cfg, 3), build_data(cfg, 3), build_data(cfg, 4)
    for part in ("train", "val", "test"):
        assert torch.equal(_x(getattr(a, part)), _x(getattr(b, part)))
        assert torch.equal(labels_of(getattr(a, part)), labels_of(getattr(b, part)))
    assert a.info == b.info
    assert not torch.equal(_x(a.train), _x(other.train))  # the seed matters


def _pool_fractions(name: str, cfg: DataConfig, sizes: dict[str, int]) -> dict[str, float]:
    """Expected split sizes: fractions of everything, or for a fixed official test set,
    val carved from the official training set with val / (train + val)."""
    s = cfg.split
    if name in FIXED_TEST:
        share = s.val / (s.train + s.val)
        return {"train": N_TRAIN_FILES * (1 - share), "val": N_TRAIN_FILES * share}
    total = sum(sizes.values())
    return {"train": total * s.train, "val": total * s.val, "test": total * s.test}


@pytest.mark.parametrize("split", [(0.7, 0.15, 0.15), (0.5, 0.3, 0.2)])
@pytest.mark.parametrize("name", DATASET_NAMES)
def test_split_fractions_and_stratification(name, split, make_cfg):
    cfg = make_cfg(name, split=SplitConfig(*split))
    bundle = build_data(cfg, seed=1)
    sizes = bundle.info["sizes"]
    for part, expected in _pool_fractions(name, cfg, sizes).items():
        assert abs(sizes[part] - expected) <= 1, (part, sizes)
    if name in FIXED_TEST:
        assert sizes["test"] == N_TEST_FILES
    if bundle.task != "classification":
        return
    counts = {k: np.asarray(v) for k, v in bundle.info["class_counts"].items()}
    pool = counts["train"] + counts["val"]
    if name not in FIXED_TEST:
        pool = pool + counts["test"]
    fractions = dict(zip(("train", "val", "test"), split, strict=True))
    if name in FIXED_TEST:
        fractions = {"train": split[0] / (split[0] + split[1]), "val": split[1] / sum(split[:2])}
    for part, f in fractions.items():
        assert np.all(np.abs(counts[part] - pool * f) <= 1 + 1e-9), (part, counts)


def test_zero_fractions_give_empty_splits(make_cfg):
    bundle = build_data(make_cfg("moons", split=SplitConfig(0.8, 0.2, 0.0)), seed=0)
    assert len(bundle.test) == 0 and len(bundle.val) == 40
    bundle = build_data(make_cfg("digits", split=SplitConfig(0.9, 0.1, 0.0)), seed=0)
    assert len(bundle.test) == 0
    assert bundle.info["class_counts"]["test"] == [0] * 10
    with pytest.raises(SchemaError, match="val"):  # validation is what picks best.pt
        SplitConfig(0.8, 0.0, 0.2)


# ---- particular data sets ----------------------------------------------------------------


def test_line_recovers_true_weights_by_least_squares(make_cfg):
    cfg = make_cfg("line", w=(1.5, -3.0), b=0.25, noise=0.01, normalize=False)
    bundle = build_data(cfg, seed=0)
    assert bundle.info["true_w"] == [1.5, -3.0] and bundle.info["true_b"] == 0.25
    x = torch.cat([bundle.train.x, torch.ones(len(bundle.train), 1)], 1).double()
    coef = torch.linalg.lstsq(x, bundle.train.y.double()).solution[:, 0]
    assert torch.allclose(coef, torch.tensor([1.5, -3.0, 0.25], dtype=torch.float64), atol=0.01)


def test_gaussian_ring_modes(make_cfg):
    bundle = build_data(make_cfg("gaussian_ring", normalize=False), seed=0)
    radius = bundle.train.x.norm(dim=1)
    assert torch.all((radius - 2.0).abs() < 0.2) and torch.all(bundle.train.y == 0)
    angle = torch.atan2(bundle.train.x[:, 1], bundle.train.x[:, 0]) / (2 * torch.pi / 8)
    assert set(angle.round().remainder(8).long().tolist()) == set(range(8))


def test_gaussian_grid_modes(make_cfg):
    bundle = build_data(make_cfg("gaussian_grid", normalize=False), seed=0)
    centres = torch.tensor(bundle.info["centres"])
    assert centres.shape == (25, 2) and bundle.info["mode_std"] == 0.05
    assert sorted(set(centres[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    nearest = torch.cdist(bundle.train.x, centres).min(dim=1)
    assert torch.all(nearest.values < 5 * 0.05)  # every sample near its own centre
    assert set(nearest.indices.tolist()) == set(range(25))


def test_digit_seg_masks_follow_ink(make_cfg):
    from mlcore.data.digit_seg import INK

    bundle = build_data(make_cfg("digit_seg", normalize=False), seed=0)
    x, y = bundle.train.x[:, 0], bundle.train.y
    assert torch.equal(y > 0, x > INK)
    quadrants = y.reshape(-1, 2, 16, 2, 16).amax(dim=(2, 4)) > 0  # [N, 2, 2]
    assert set(quadrants.sum(dim=(1, 2)).tolist()) <= {2, 3}


def test_digit_seg_splits_never_share_a_source_digit(make_cfg, monkeypatch):
    from mlcore.data import digit_seg

    pools: list[set[int]] = []
    compose = digit_seg._compose

    def spy(sources, *args):
        pools.append(set(sources.tolist()))
        return compose(sources, *args)

    monkeypatch.setattr(digit_seg, "_compose", spy)
    build_data(make_cfg("digit_seg"), seed=0)
    assert len(pools) == 3 and all(pools)
    assert not (pools[0] & pools[1] or pools[0] & pools[2] or pools[1] & pools[2])


def test_fixed_test_set_is_the_official_one(make_cfg):
    bundle = build_data(make_cfg("mnist", normalize=False), seed=0)
    assert len(bundle.test) == N_TEST_FILES
    assert bundle.test.y.tolist() == [k % 10 for k in range(N_TEST_FILES)]
    assert bundle.class_names[0] == "0 - zero"


def test_image_folder_resizes_to_the_first_image(make_cfg):
    bundle = build_data(make_cfg("image_folder", split=SplitConfig(0.5, 0.25, 0.25)), seed=0)
    splits = (bundle.train, bundle.val, bundle.test)
    assert bundle.class_names == ["cat", "dog"] and sum(map(len, splits)) == 24
    shapes = {tuple(split[i][0].shape) for split in splits for i in range(len(split))}
    assert shapes == {(3, 8, 8)}


@pytest.mark.parametrize("name", sorted(sklearn_files.FILES))
def test_sklearn_files_read_as_sklearn_reads_them(name, monkeypatch):
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    here = sklearn_files.load(name)
    monkeypatch.setattr(sklearn_files, "_data_dir", lambda: Path("/nonexistent"))
    fallback = sklearn_files.load(name)  # a layout where the file is not: sklearn reads it
    for table in (here, fallback):
        assert table.data.dtype == bunch.data.dtype and table.target.dtype == bunch.target.dtype
        assert np.array_equal(table.data, bunch.data)
        assert np.array_equal(table.target, bunch.target)
        assert table.target_names == [str(n) for n in bunch.target_names]


def test_sklearn_diabetes_read_and_scaled_as_sklearn_does(monkeypatch):
    from sklearn import datasets

    bunch = datasets.load_diabetes()
    here = sklearn_files.load_diabetes()
    monkeypatch.setattr(sklearn_files, "_data_dir", lambda: Path("/nonexistent"))
    for data, target in (here, sklearn_files.load_diabetes()):
        assert data.dtype == bunch.data.dtype and target.dtype == bunch.target.dtype
        assert np.array_equal(data, bunch.data) and np.array_equal(target, bunch.target)


@pytest.mark.parametrize("n, noise, seed", [(1000, 0.2, 0), (7, 0.0, 3), (301, 0.05, 12345)])
def test_moons_and_circles_drawn_as_sklearn_draws_them(n, noise, seed):
    from sklearn import datasets

    from mlcore.data import sklearn_samples

    pairs = [
        (
            sklearn_samples.make_moons(n, noise, seed),
            datasets.make_moons(n, noise=noise, random_state=seed),
        ),
        (
            sklearn_samples.make_circles(n, noise, 0.5, seed),
            datasets.make_circles(n, noise=noise, factor=0.5, random_state=seed),
        ),
    ]
    for (x, y), (x_ref, y_ref) in pairs:
        assert x.dtype == x_ref.dtype and y.dtype == y_ref.dtype
        assert np.array_equal(x, x_ref) and np.array_equal(y, y_ref)


def test_sklearn_sets_load_without_importing_sklearn():
    import subprocess
    import sys

    names = ["digits", "digit_seg", "iris", "diabetes", "moons", "circles"]
    code = (
        "import sys; from mlcore.config import DataConfig; from mlcore.data import build_data; "
        f"[build_data(DataConfig(name=n), seed=0) for n in {names!r}]; "
        "assert 'sklearn' not in sys.modules, 'sklearn was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
