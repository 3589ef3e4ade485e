"""Deliberate data changes for the studies: data.shift, data.class_fraction, data.contaminate."""

from __future__ import annotations

import pytest
import torch

from mlcore.config import DataConfig, SplitConfig, load_config
from mlcore.config.unused_keys import unused_keys
from mlcore.data import build_data
from mlcore.errors import MlcoreError


def _cfg(**kw) -> DataConfig:
    return DataConfig(**{"name": "moons", "n_samples": 200, **kw})


def test_shift_moves_every_split_and_nothing_else():
    plain = build_data(_cfg(normalize=False), seed=0)
    moved = build_data(_cfg(normalize=False, shift=5.0), seed=0)
    for part in ("train", "val", "test"):
        a, b = getattr(plain, part), getattr(moved, part)
        assert torch.allclose(b.x, a.x + 5.0) and torch.equal(a.y, b.y)
    assert moved.train.x.mean() > 4.0  # far from the origin: a bias-free layer cannot follow


def test_shift_is_taken_out_by_normalization_and_a_warning_says_so(tmp_path):
    a = build_data(_cfg(), seed=0)
    b = build_data(_cfg(shift=5.0), seed=0)
    assert torch.allclose(a.train.x, b.train.x, atol=1e-4)
    path = tmp_path / "c.yaml"
    path.write_text("data: {name: moons, shift: 3.0}\n")
    assert any("data.shift has no effect" in w for w in unused_keys(load_config(path), "x"))


def test_class_fraction_thins_a_class_in_every_split():
    raw = {"name": "breast_cancer", "normalize": False}  # compare rows in their own units
    full = build_data(DataConfig(**raw), seed=0)
    thin = build_data(DataConfig(**raw, class_fraction=[0.2, 1.0]), seed=0)
    for part in ("train", "val", "test"):
        before = torch.bincount(getattr(full, part).y, minlength=2)
        after = torch.bincount(getattr(thin, part).y, minlength=2)
        assert after[1] == before[1]
        assert after[0] == -(-int(before[0]) * 2 // 10)  # ceil(0.2 n)
    # the kept samples are real rows of the full split (a subset, not new data)
    kept = {tuple(r.tolist()) for r in thin.test.x}
    assert kept <= {tuple(r.tolist()) for r in full.test.x}


def test_class_fraction_must_match_the_classes():
    with pytest.raises(MlcoreError, match="3 values but the data has 2 classes"):
        build_data(DataConfig(name="breast_cancer", class_fraction=[0.5, 1.0, 1.0]), seed=0)
    with pytest.raises(MlcoreError, match="classification"):
        build_data(DataConfig(name="diabetes", class_fraction=[0.5]), seed=0)


def test_contaminate_plants_copies_the_guard_counts_and_dedupe_drops():
    clean = build_data(_cfg(n_samples=400), seed=1)
    dirty = build_data(_cfg(n_samples=400, contaminate=0.5), seed=1)
    n_test = len(clean.test)
    assert len(dirty.test) == n_test
    assert clean.info["contamination"]["test_in_train"] == 0
    assert dirty.info["contamination"]["test_in_train"] == n_test // 2
    assert dirty.info["contamination"]["val_in_train"] == 0  # validation stays clean
    deduped = build_data(_cfg(n_samples=400, contaminate=0.5, dedupe=True), seed=1)
    assert len(deduped.test) == n_test - n_test // 2
    # what is left is the clean test split's own samples
    rows = {tuple(r.tolist()) for r in clean.test.x}
    assert all(tuple(r.tolist()) in rows for r in deduped.test.x)


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [("class_fraction", "[0.0, 1.0]", "(0, 1]"), ("contaminate", "1.5", "[0, 1]")],
)
def test_bad_values_are_config_errors(tmp_path, key, value, needle):
    path = tmp_path / "c.yaml"
    path.write_text(f"data: {{name: moons, {key}: {value}}}\n")
    with pytest.raises(MlcoreError, match=f"data.{key}") as err:
        load_config(path)
    assert needle in str(err.value)


def test_shift_per_feature_and_its_length_checked():
    plain = build_data(_cfg(normalize=False), seed=0)
    moved = build_data(_cfg(normalize=False, shift=[0.0, 5.0]), seed=0)
    assert torch.allclose(moved.test.x, plain.test.x + torch.tensor([0.0, 5.0]))
    with pytest.raises(MlcoreError, match="data.shift has 3 values but moons has"):
        build_data(_cfg(normalize=False, shift=[1.0, 2.0, 3.0]), seed=0)


def test_contaminate_all_of_a_test_split_larger_than_train():
    split = SplitConfig(train=0.3, val=0.1, test=0.6)
    data = build_data(_cfg(n_samples=100, contaminate=1.0, split=split), seed=0)
    assert data.info["contamination"]["test_in_train"] == len(data.test) == 60
