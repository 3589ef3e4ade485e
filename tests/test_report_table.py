"""Rich tables for reports, and the confusion / segmentation PNGs."""

from __future__ import annotations

import torch
from rich.console import Console

from mlcore.evaluation.report_table import render_report
from mlcore.metrics import classification_report, confusion_matrix, segmentation_report
from mlcore.plots.confusion import plot_confusion, plot_segmentation


def _text(renderables) -> str:
    console = Console(record=True, width=120)
    for r in renderables:
        console.print(r)
    return console.export_text()


def _classification(cm: list[list[int]], names=None) -> dict:
    rep = classification_report(torch.tensor(cm), class_names=names)
    return {"task": "classification", "split": "test", "num_samples": sum(map(sum, cm)), **rep}


def test_breast_cancer_like_balance_has_no_note():
    # 212 malignant / 357 benign: ratio 1.68 < 3, accuracy is a fair summary.
    text = _text(render_report(_classification([[200, 12], [9, 348]], ["malignant", "benign"])))
    assert "malignant" in text and "benign" in text
    assert "binary (positive: benign)" in text
    assert "imbalanced" not in text
    assert "Confusion matrix" in text and "true \\ pred" in text


def test_ten_to_one_imbalance_note_quotes_accuracy_and_macro_f1():
    report = _classification([[98, 2], [6, 4]])
    text = _text(render_report(report, class_names=["neg", "pos"]))
    assert "imbalanced" in text and "100/10" in text
    assert f"{report['accuracy']:.4f}" in text
    assert f"{report['macro']['f1']:.4f}" in text
    for row in ("macro avg", "micro avg", "weighted avg", "accuracy"):
        assert row in text


def test_multiclass_absent_class_and_matrix_headers():
    names = ["cat", "dog", "bird"]
    text = _text(render_report(_classification([[5, 1, 0], [2, 6, 0], [0, 0, 0]], names)))
    assert "absent from target and prediction" in text and "bird" in text
    header = next(line for line in text.splitlines() if "true \\ pred" in line)
    assert all(n in header for n in names)


def test_segmentation_tables_and_notes():
    target = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 255]], [[1, 1, 1, 1], [1, 1, 255, 255]]])
    pred = torch.tensor([[[0, 0, 1, 0], [0, 2, 1, 3]], [[1, 1, 1, 1], [1, 0, 0, 1]]])
    names = ["road", "car", "tree", "sky"]
    rep = segmentation_report(confusion_matrix(pred, target, 4, ignore_index=255), names)
    text = _text(render_report({"task": "segmentation", "split": "val", **rep}))
    for needle in ("pixel accuracy", "mean accuracy", "mIoU", "0.4259", "road", "car"):
        assert needle in text
    assert "class sky is absent from the data" in text
    assert "class tree never occurs in the target but is predicted on 1 pixel" in text


def test_regression_table():
    rep = {"task": "regression", "split": "test", "num_samples": 10}
    rep |= {"mse": 4.0, "rmse": 2.0, "mae": 1.5, "r2": 0.75}
    text = _text(render_report(rep))
    for needle in ("mse", "rmse", "mae", "r2", "4.0000", "0.7500", "10 samples"):
        assert needle in text


def _is_png(path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_confusion_png(tmp_path):
    path = plot_confusion(torch.tensor([[5, 1], [2, 7]]), ["a", "b"], tmp_path / "p" / "cm.png",
                          title="test")  # fmt: skip
    assert _is_png(path)
    big = torch.randint(0, 50, (40, 40), generator=torch.Generator().manual_seed(0))
    assert _is_png(plot_confusion(big, None, tmp_path / "big.png", "40 classes"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.png", "p"]  # no temp files left


def test_plot_segmentation_png(tmp_path):
    g = torch.Generator().manual_seed(0)
    images = torch.randn(6, 3, 16, 24, generator=g)  # [N, C, H, W]
    targets = torch.randint(0, 3, (6, 16, 24), generator=g)
    targets[:, :2] = 255
    preds = torch.randint(0, 3, (6, 16, 24), generator=g)
    path = plot_segmentation(images, targets, preds, tmp_path / "seg.png", ignore_index=255)
    assert _is_png(path)
    gray = plot_segmentation(images[:2, :1], targets[:2], torch.randn(2, 3, 16, 24, generator=g),
                             tmp_path / "seg1.png", ignore_index=255, max_items=1)  # fmt: skip
    assert _is_png(gray)
