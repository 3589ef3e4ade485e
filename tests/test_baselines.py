"""Baselines beside the model's figures: majority class (classification) and all-background
(segmentation), from hand-made confusion matrices, scikit-learn's DummyClassifier, and the
report tables."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rich.console import Console

from mlcore.evaluation.report_table import render_report
from mlcore.metrics import (
    background_baseline,
    classification_report,
    confusion_matrix,
    majority_baseline,
    segmentation_report,
)


def _text(renderables) -> str:
    console = Console(record=True, width=120)
    for r in renderables:
        console.print(r)
    return console.export_text()


def test_majority_from_row_sums_not_predictions():
    # true counts 3, 9, 2 (rows); the model predicts class 0 most often, which must not matter
    cm = torch.tensor([[3, 0, 0], [6, 3, 0], [1, 0, 1]])
    base = majority_baseline(cm, ["a", "b", "c"])
    assert base == {"majority_class": "b", "accuracy": pytest.approx(9 / 14)}
    assert classification_report(cm)["baseline"] == {"majority_class": 1, "accuracy": 9 / 14}


def test_majority_tie_takes_lowest_index():
    cm = torch.tensor([[0, 2, 0], [1, 0, 3], [4, 0, 0]])  # classes 1 and 2 both have 4
    assert majority_baseline(cm) == {"majority_class": 1, "accuracy": 4 / 10}


def test_majority_empty_matrix_is_zero():
    assert majority_baseline(torch.zeros(2, 2, dtype=torch.long))["accuracy"] == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_majority_matches_sklearn_dummy_on_a_skewed_split(seed):
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import accuracy_score

    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=500, p=[0.1, 0.6, 0.2, 0.1])
    pred = rng.integers(0, 4, size=500)  # any model: the baseline ignores its predictions
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((500, 1)), y)
    expected = accuracy_score(y, dummy.predict(np.zeros((500, 1))))
    cm = confusion_matrix(torch.from_numpy(pred), torch.from_numpy(y), 4)
    base = classification_report(cm)["baseline"]
    assert base["majority_class"] == int(dummy.classes_[np.argmax(dummy.class_prior_)])
    assert base["accuracy"] == pytest.approx(expected, abs=1e-12)


def test_background_baseline_by_hand():
    # 100 pixels: 90 background, 10 of class 1, class 2 absent from the target
    cm = torch.tensor([[85, 3, 2], [4, 6, 0], [0, 0, 0]])
    base = background_baseline(cm)
    # all-background: class 0 IoU 90/100; class 1 IoU 0 (missed); class 2 null (never there,
    # never predicted) and left out of the mean, as in the model's miou
    assert base == {"pixel_accuracy": pytest.approx(0.9), "miou": pytest.approx(0.45)}
    assert segmentation_report(cm)["baseline"] == base


def test_background_baseline_equals_report_of_all_zero_prediction():
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 4, (3, 8, 8), generator=g)
    target[target == 2] = 0  # class 2 absent: null in both
    pred = torch.randint(0, 4, (3, 8, 8), generator=g)
    base = segmentation_report(confusion_matrix(pred, target, 4))["baseline"]
    zeros = segmentation_report(confusion_matrix(torch.zeros_like(target), target, 4))
    assert base == {"pixel_accuracy": zeros["pixel_accuracy"], "miou": zeros["miou"]}


def test_classification_table_shows_the_majority_line():
    cm = [[40, 13], [5, 85]]  # 53 malignant, 90 benign
    rep = classification_report(torch.tensor(cm), class_names=["malignant", "benign"])
    text = _text(render_report({"task": "classification", "split": "test", **rep}))
    assert "baseline (always 'benign')" in text
    assert f"{90 / 143:.4f}" in text


def test_segmentation_table_shows_the_background_baseline():
    rep = segmentation_report(torch.tensor([[85, 3, 2], [4, 6, 0], [0, 0, 0]]), ["bg", "a", "b"])
    text = _text(render_report({"task": "segmentation", "split": "val", **rep}))
    assert "baseline pixel accuracy (all 'bg')" in text and "0.9000" in text
    assert "baseline mIoU (all 'bg')" in text and "0.4500" in text


def test_old_reports_without_baseline_still_render():
    rep = classification_report(torch.tensor([[1, 0], [0, 1]]))
    del rep["baseline"]
    assert "accuracy" in _text(render_report({"task": "classification", **rep}))
