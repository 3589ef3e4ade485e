"""Normalization fitted on train alone, the contamination guard, csv rules and user errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn import datasets

from mlcore.config import DataConfig, SplitConfig
from mlcore.data import build_data, find_duplicates
from mlcore.data.guard import row_digests
from mlcore.errors import MlcoreError

# ---- normalization -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["wine", "digits", "moons"])
def test_normalization_is_fitted_on_train_only(name):
    cfg = DataConfig(name=name, n_samples=300)
    raw = build_data(DataConfig(name=name, n_samples=300, normalize=False), seed=0)
    bundle = build_data(cfg, seed=0)
    dims = (0,) if raw.train.x.dim() == 2 else (0, 2, 3)  # per feature / per channel
    mean = torch.tensor(bundle.stats["mean"], dtype=torch.float64)
    std = torch.tensor(bundle.stats["std"], dtype=torch.float64)
    assert torch.allclose(mean, raw.train.x.double().mean(dims), rtol=1e-5, atol=1e-6)
    everything = torch.cat([raw.train.x, raw.val.x, raw.test.x]).double()
    assert not torch.allclose(mean, everything.mean(dims), atol=1e-5)  # would pass if leaked
    assert torch.allclose(bundle.train.x.double().mean(dims), torch.zeros_like(mean), atol=1e-5)
    assert torch.allclose(bundle.train.x.double().std(dims, correction=0), std * 0 + 1, atol=1e-4)
    shape = (1, -1) if raw.train.x.dim() == 2 else (1, -1, 1, 1)
    expected_test = (raw.test.x - mean.float().view(shape)) / std.float().view(shape)
    assert torch.allclose(bundle.test.x, expected_test, atol=1e-5)
    assert bundle.info["normalization"]["fitted_on"] == "train"


def test_given_stats_are_applied_instead_of_fitted():
    stats = {"mean": [1.0] * 13, "std": [2.0] * 13}
    raw = build_data(DataConfig(name="wine", normalize=False), seed=0)
    bundle = build_data(DataConfig(name="wine"), seed=0, stats=stats)
    assert torch.allclose(bundle.val.x, (raw.val.x - 1.0) / 2.0)
    assert bundle.stats == stats and bundle.info["normalization"]["fitted_on"] == "checkpoint"
    with pytest.raises(MlcoreError, match="13 features/channels"):
        build_data(DataConfig(name="wine"), seed=0, stats={"mean": [0.0], "std": [1.0]})


def test_regression_targets_and_constant_features(tmp_path):
    raw = build_data(DataConfig(name="diabetes", normalize=False), seed=0)
    bundle = build_data(DataConfig(name="diabetes"), seed=0)
    assert torch.equal(bundle.train.y, raw.train.y)  # targets stay in their own units
    path = tmp_path / "const.csv"
    path.write_text("c,v,y\n" + "".join(f"7,{i},{i * 0.37:.2f}\n" for i in range(40)))
    bundle = build_data(DataConfig(name="csv", path=str(path), target="y"), seed=0)
    assert bundle.task == "regression" and bundle.stats["std"][0] == 1.0
    assert torch.all(bundle.train.x[:, 0] == 0)  # constant column: (7 - 7) / 1, not 0 / 0


# ---- contamination guard -----------------------------------------------------------------


def test_find_duplicates_finds_planted_copies():
    gen = torch.Generator().manual_seed(0)
    train = torch.randn(500, 3, 4, 4, generator=gen)
    other = torch.randn(50, 3, 4, 4, generator=gen)
    planted = [3, 17, 42]
    other[planted] = train[[10, 200, 499]]
    assert find_duplicates(train, other).nonzero().flatten().tolist() == planted
    other[5] = train[0] + 1e-6  # near-duplicates are (documented to be) missed
    assert not find_duplicates(train, other)[5]
    assert find_duplicates(train, other[:0]).shape == (0,)


@pytest.mark.parametrize(
    "name, duplicate_rows",
    [("iris", 1), ("digits", 0), ("wine", 0), ("breast_cancer", 0), ("diabetes", 0)],
)
def test_shipped_data_sets_exact_duplicates(name, duplicate_rows):
    x = torch.from_numpy(getattr(datasets, f"load_{name}")().data.astype(np.float32))
    assert len(x) - len(set(row_digests(x))) == duplicate_rows


def test_iris_duplicate_pair_is_caught_and_dropped():
    """sklearn's iris rows 101 and 142 are identical (5.8, 2.7, 5.1, 1.9; both virginica)."""
    iris = datasets.load_iris()
    assert np.array_equal(iris.data[101], iris.data[142])
    counts = {}
    for seed in range(8):
        info = build_data(DataConfig(name="iris"), seed).info["contamination"]
        counts[seed] = info["val_in_train"] + info["test_in_train"]
    assert set(counts.values()) <= {0, 1} and 1 in counts.values()
    seed = next(s for s, c in counts.items() if c)
    kept = build_data(DataConfig(name="iris"), seed)
    dropped = build_data(DataConfig(name="iris", dedupe=True), seed)
    assert dropped.info["contamination"]["dropped"] is True
    assert len(kept.val) + len(kept.test) - 1 == len(dropped.val) + len(dropped.test)


def test_dedupe_removes_planted_duplicates(tmp_path):
    path = tmp_path / "dups.csv"
    rows = [f"{i % 10},{i % 10 * 2},{i % 2}" for i in range(100)]  # every row 10 times
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    cfg = DataConfig(name="csv", path=str(path), target="y")
    info = build_data(cfg, seed=0).info["contamination"]
    assert info["val_in_train"] == 15 and info["test_in_train"] == 15
    deduped = build_data(DataConfig(name="csv", path=str(path), target="y", dedupe=True), 0)
    assert len(deduped.val) == len(deduped.test) == 0
    assert deduped.info["contamination"] == {
        "val_in_train": 15,
        "test_in_train": 15,
        "dropped": True,
    }


def test_guard_reads_lazy_image_folders(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(10):
            pixels = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / label / f"{i}.png")
    for i in range(6):  # six more copies of one image: 7 identical samples in all
        Image.open(tmp_path / "a" / "0.png").save(tmp_path / "a" / f"copy{i}.png")
    cfg = DataConfig(name="image_folder", root=str(tmp_path), split=SplitConfig(0.5, 0.25, 0.25))
    c = build_data(cfg, seed=0).info["contamination"]
    assert 0 < c["val_in_train"] + c["test_in_train"] <= 6
    deduped = build_data(dataclasses.replace(cfg, dedupe=True), seed=0)
    held_out = [deduped.val[i][0] for i in range(len(deduped.val))]
    held_out += [deduped.test[i][0] for i in range(len(deduped.test))]
    train = torch.stack([deduped.train[i][0] for i in range(len(deduped.train))])
    assert not find_duplicates(train, torch.stack(held_out)).any()


# ---- csv -----------------------------------------------------------------------------------


def _csv(tmp_path, text: str, **fields) -> DataConfig:
    path = tmp_path / "t.csv"
    path.write_text(text)
    return DataConfig(name="csv", path=str(path), **{"target": "y", **fields})


@pytest.mark.parametrize(
    "target, task, names",
    [
        (lambda i: i % 3 * 2 + 3, "classification", ["3", "5", "7"]),
        (lambda i: ["no", "yes"][i % 2], "classification", ["no", "yes"]),
        (lambda i: f"{i * 0.5:.1f}", "regression", None),
        (lambda i: i, "regression", None),  # integers, but 30 distinct values
    ],
)
def test_csv_infers_the_task(tmp_path, target, task, names):
    text = "x,y\n" + "".join(f"{i * 0.1:.1f},{target(i)}\n" for i in range(30))
    bundle = build_data(_csv(tmp_path, text), seed=0)
    assert bundle.task == task and bundle.class_names == names
    if names:
        labels = torch.cat([bundle.train.y, bundle.val.y, bundle.test.y])
        assert sorted(set(labels.tolist())) == list(range(len(names)))


def test_csv_task_override(tmp_path):
    text = "x,y\n" + "".join(f"{i * 0.5},{i % 2}\n" for i in range(20))  # x = i: ID-like
    bundle = build_data(_csv(tmp_path, text, task="regression"), seed=0)
    assert bundle.task == "regression" and bundle.train.y.dtype == torch.float32


def test_csv_errors_name_the_column_and_file(tmp_path):
    cfg = _csv(tmp_path, "x,w,y\n1,2,0\n2,oops,1\n3,4,0\n")  # text columns: test_csv_tabular
    with pytest.raises(
        MlcoreError, match=r"t\.csv: column 'w' holds numbers except in 1 cell \('oops'"
    ):
        build_data(cfg, seed=0)
    with pytest.raises(
        MlcoreError, match=r"t\.csv: no target column 'label'; columns: x, colour, y"
    ):
        build_data(_csv(tmp_path, "x,colour,y\n1,2,0\n", target="label"), seed=0)
    with pytest.raises(MlcoreError, match="no such CSV file"):
        build_data(DataConfig(name="csv", path=str(tmp_path / "nope.csv"), target="y"), seed=0)


# ---- files that are not there ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, folder",
    [
        ("mnist", "MNIST/raw"),
        ("fashion_mnist", "FashionMNIST/raw"),
        ("cifar10", "cifar-10-batches-py"),
    ],
)
def test_missing_files_name_the_path_and_the_fix(tmp_path, name, folder):
    with pytest.raises(MlcoreError) as err:
        build_data(DataConfig(name=name, root=str(tmp_path)), seed=0)
    assert str(tmp_path / folder) in str(err.value)
    assert "--set data.download=true" in str(err.value) and "data.root" in str(err.value)


def test_missing_image_folder(tmp_path):
    with pytest.raises(MlcoreError, match="data.root"):
        build_data(DataConfig(name="image_folder"), seed=0)
    with pytest.raises(MlcoreError, match=str(tmp_path / "none")):
        build_data(DataConfig(name="image_folder", root=str(tmp_path / "none")), seed=0)
