"""What the plots show, read from the figure objects (axes, labels, legends), not pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlcore.config import ModelConfig, load_config
from mlcore.models import build_model
from mlcore.plots.confusion import BACKGROUND_COLOR, ERROR_COLOR, segmentation_figure
from mlcore.plots.curves import curve_figures, lr_scale, plot_curves
from mlcore.training.layer_labels import layer_labels

REPO_CONFIGS = __import__("pathlib").Path(__file__).resolve().parents[1] / "configs"


def _rows(columns: dict[str, list[float]]) -> list[dict[str, str]]:
    """metrics.csv rows as csv.DictReader gives them: strings, epochs from 1."""
    n = len(next(iter(columns.values())))
    return [{"epoch": str(i + 1), **{k: repr(v[i]) for k, v in columns.items()}} for i in range(n)]


def _cosine(n: int, lr: float = 1e-3) -> list[float]:
    return [lr * (1 + math.cos(math.pi * k / n)) / 2 for k in range(n)]


CLASSIFICATION = {
    "train/loss": [1.2, 0.4, 0.2, 0.15, 0.1],
    "val/loss": [0.7, 0.2, 0.12, 0.1, 0.11],
    "val/accuracy": [0.94, 0.985, 0.989, 0.992, 0.992],
    "val/f1": [0.943, 0.985, 0.988, 0.992, 0.991],
    "lr": _cosine(5),
    "grad/hidden.0": [0.2, 0.1, 0.1, 0.05, 0.04],
    "grad/hidden.2": [0.3, 0.2, 0.1, 0.08, 0.07],
    "grad/head": [0.5, 0.3, 0.2, 0.1, 0.1],
}
BEST = {"epoch": 4, "monitor": "val/accuracy", "value": 0.992}


def _ylabels(fig) -> list[str]:
    return [ax.get_ylabel() for ax in fig.axes]


def _best_lines(ax) -> list[float]:
    """x of the dotted vertical lines on ax."""
    return [
        line.get_xdata()[0]
        for line in ax.get_lines()
        if line.get_linestyle() == ":" and len(set(line.get_xdata())) == 1
    ]


def test_metrics_get_one_panel_each_on_a_shared_epoch_axis():
    figs = curve_figures(_rows(CLASSIFICATION), "cnn", best=BEST)
    assert set(figs) == {"loss", "metrics", "lr", "grad_norms"}
    metrics = figs["metrics"]
    assert _ylabels(metrics) == ["accuracy", "macro F1"]  # not one "validation metric" axis
    assert [ax.get_xlabel() for ax in metrics.axes] == ["", "epoch"]
    assert metrics.axes[0].get_shared_x_axes().joined(*metrics.axes)
    assert _ylabels(figs["loss"]) == ["loss"]  # train and val: one quantity, one panel
    legend = figs["loss"].axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["train", "val"]


def test_an_l2_penalty_gets_its_own_loss_panel():
    rows = _rows({"train/loss": [0.54, 0.33], "train/data_loss": [0.37, 0.2],
                  "train/penalty": [0.17, 0.12], "val/loss": [0.3, 0.18]})  # fmt: skip
    loss = curve_figures(rows, "moons")["loss"]
    assert _ylabels(loss) == ["loss", "L1/L2 penalty"]
    assert [t.get_text() for t in loss.axes[0].get_legend().get_texts()] == [
        "train",
        "train, data loss only",
        "val",
    ]


def test_regression_metrics_are_not_flattened_by_mse():
    rows = _rows({"train/loss": [8000.0, 3100.0], "val/loss": [7900.0, 3000.0],
                  "val/rmse": [88.9, 54.8], "val/r2": [-0.27, 0.5], "val/mse": [7900.0, 3000.0],
                  "val/mae": [74.6, 45.0], "lr": [0.03, 0.02]})  # fmt: skip
    metrics = curve_figures(rows, "diabetes")["metrics"]
    assert _ylabels(metrics) == ["RMSE", "R²", "MSE", "MAE"]
    r2_axis = metrics.axes[1]
    low, high = r2_axis.get_ylim()
    assert low < -0.27 and high < 2  # r2's own scale, not 0..8000


def test_best_epoch_is_marked_on_every_panel_and_labelled_once():
    figs = curve_figures(_rows(CLASSIFICATION), "cnn", best=BEST)
    for name, fig in figs.items():
        for ax in fig.axes:
            assert _best_lines(ax) == [4], name
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert texts == ["best: epoch 4 (val/accuracy)"], name
    star = [ln for ln in figs["metrics"].axes[0].get_lines() if ln.get_marker() == "*"]
    assert [tuple(s.get_xydata()[0]) for s in star] == [(4.0, 0.992)]
    plain = curve_figures(_rows(CLASSIFICATION), "cnn")  # no best known: no mark
    assert all(not _best_lines(ax) and not ax.texts for f in plain.values() for ax in f.axes)


def test_lr_axis_is_linear_for_a_cosine_and_log_for_decade_steps():
    assert lr_scale(_cosine(100)) == "linear"  # max/min ~ 4000, yet not a cliff
    assert lr_scale(_cosine(6)) == "linear"
    assert lr_scale([1e-3] * 8) == "linear"
    assert lr_scale([0.1] * 10 + [0.01] * 10 + [0.001] * 10) == "log"
    assert lr_scale([0.1] * 10 + [0.0] * 2) == "linear"  # a zero cannot go on a log axis
    cosine = curve_figures(_rows({"lr": _cosine(30)}), "r")["lr"].axes[0]
    assert cosine.get_yscale() == "linear" and cosine.get_ylim()[0] == 0
    steps = curve_figures(_rows({"lr": [0.1] * 10 + [0.01] * 10 + [0.001] * 10}), "r")
    assert steps["lr"].axes[0].get_yscale() == "log"
    assert _ylabels(steps["lr"]) == ["learning rate"]


def test_grad_norm_legend_names_layers_and_sits_outside_the_data():
    names = {"hidden.0": "linear 1", "hidden.2": "linear 2", "head": "linear 3 (output)"}
    fig = curve_figures(_rows(CLASSIFICATION), "mlp", layer_names=names)["grad_norms"]
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == list(names.values())
    fig.canvas.draw()
    box = legend.get_window_extent()
    inside = ax.get_window_extent()
    assert box.x0 >= inside.x1 or box.y1 <= inside.y0  # beside or below the axes
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() not in fig.get_suptitle()  # the y-label does not repeat the title
    old = curve_figures(_rows(CLASSIFICATION), "mlp")["grad_norms"]  # no names: module paths
    assert [t.get_text() for t in old.axes[0].get_legend().get_texts()] == [
        "hidden.0",
        "hidden.2",
        "head",
    ]


def test_gan_curves_follow_the_same_rules():
    rows = _rows({"train/d_loss": [1.8, 1.4, 1.3], "train/g_loss": [-0.04, 0.1, 0.3],
                  "train/d_real": [0.56, 0.64, 0.6], "train/d_fake": [0.51, 0.5, 0.47],
                  "val/score": [0.0, 0.2, 0.5], "val/quality": [0.1, 0.3, 0.6],
                  "val/coverage": [0.1, 0.5, 0.9], "val/kl": [0.6, 0.1, 0.01],
                  "lr": [1e-3] * 3})  # fmt: skip
    figs = curve_figures(rows, "gan", best={"epoch": 3, "monitor": "val/score", "value": 0.5})
    assert _ylabels(figs["loss"]) == ["discriminator loss", "generator loss"]
    d = figs["discriminator"].axes[0]
    assert [t.get_text() for t in d.get_legend().get_texts()] == [
        "real samples",
        "generated samples",
    ]
    assert _ylabels(figs["metrics"]) == [
        "score (quality × coverage)",
        "quality",
        "coverage",
        "KL from uniform",
    ]
    assert all(_best_lines(ax) == [3] for f in figs.values() for ax in f.axes)


def test_plot_curves_writes_one_png_per_figure(tmp_path):
    paths = plot_curves(_rows(CLASSIFICATION), tmp_path, "cnn", best=BEST)
    assert sorted(p.name for p in paths) == ["grad_norms.png", "loss.png", "lr.png",
                                             "metrics.png"]  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_layer_labels_count_as_a_reader_does():
    mlp = build_model(ModelConfig(name="mlp", hidden=(32, 32, 32)), (2,), 2, "classification")
    assert layer_labels(mlp) == {"hidden.0": "linear 1", "hidden.2": "linear 2",
                                 "hidden.4": "linear 3", "head": "linear 4 (output)"}  # fmt: skip
    cnn = build_model(ModelConfig(name="cnn", channels=(32, 64), hidden=(128,), batchnorm=True,
                                  dropout=0.25), (1, 8, 8), 10, "classification")  # fmt: skip
    assert layer_labels(cnn) == {"features.0.0": "conv 1", "features.1.0": "conv 2",
                                 "head.2": "linear 1", "head.6": "linear 2 (output)"}  # fmt: skip
    seg = build_model(ModelConfig(name="segnet", channels=(16, 32)), (1, 32, 32), 11,
                      "segmentation")  # fmt: skip
    labels = layer_labels(seg)
    assert list(labels.values()) == [
        *(f"conv {i}" for i in range(1, 7)), "up-conv 1", "up-conv 2",
        *(f"conv {i}" for i in range(7, 11)), "conv 11 (output)",
    ]  # fmt: skip
    assert labels["classify"] == "conv 11 (output)" and labels["up.0"] == "up-conv 1"


def test_layer_labels_of_a_gan_count_each_network_and_skip_the_ema_copy():
    cfg = load_config(REPO_CONFIGS / "gan_ring.yaml")
    gan = build_model(cfg.model, (2,), 1, "generation")
    labels = layer_labels(gan)
    assert list(labels.values()) == ["G linear 1", "G linear 2", "G linear 3 (output)",
                                     "D linear 1", "D linear 2", "D linear 3 (output)"]  # fmt: skip
    assert not any(path.startswith("ema") for path in labels)
    wrapped = torch.nn.DataParallel(build_model(ModelConfig(name="mlp", hidden=(8,)), (2,), 2,
                                                "classification"))  # fmt: skip
    assert layer_labels(wrapped) == {"hidden.0": "linear 1", "head": "linear 2 (output)"}


def test_segmentation_figure_neutral_background_and_error_panel():
    g = torch.Generator().manual_seed(0)
    images = torch.randn(3, 1, 8, 8, generator=g)
    targets = torch.zeros(3, 8, 8, dtype=torch.long)
    targets[:, 2:5, 2:5] = 1  # class "0" on a background
    targets[:, 0, :] = 255  # ignored
    preds = targets.clamp(max=1).clone()
    preds[0, 3, 3] = 0  # one wrong pixel on sample 0
    names = ["background", "0", "1"]
    fig = segmentation_figure(images, targets, preds, ignore_index=255, class_names=names)
    axes = np.array(fig.axes).reshape(3, 4)
    assert [ax.get_title() for ax in axes[0]] == [
        "#0 input",
        "#0 ground truth",
        "#0 prediction",
        "#0 errors: 1.8% wrong",
    ]  # 1 of 56 scored pixels (8 ignored)
    truth = axes[0, 1].get_images()[0]
    assert truth.cmap(truth.norm(0)) == BACKGROUND_COLOR  # background: black, not a blue
    assert truth.cmap(truth.norm(1)) != BACKGROUND_COLOR
    errors = axes[0, 3].get_images()[0].get_array()  # [H, W, 3]
    red = np.all(errors == ERROR_COLOR, axis=-1)
    assert red.sum() == 1 and red[3, 3]
    assert axes[1, 3].get_title() == "#1 errors: 0.0% wrong"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["background", "0", "ignored (255)", "wrong pixel (errors)"]


def test_many_layers_get_a_colour_each_ordered_by_depth():
    rows = _rows({f"grad/layer{i}": [1.0 + i, 2.0 + i] for i in range(21)})  # a ResNet-18
    lines = curve_figures(rows, "r")["grad_norms"].axes[0].get_lines()
    colours = [line.get_color() for line in lines]
    assert len(set(map(tuple, colours))) == 21  # tab20 would repeat the first colour


@pytest.mark.slow  # a whole (tiny) training run: several seconds on a busy 2-core machine
def test_a_training_run_plots_with_layer_names_and_its_best_epoch(tmp_path, write_config,
                                                                   monkeypatch):  # fmt: skip
    from mlcore import api

    calls = []
    monkeypatch.setattr(api, "plot_curves", lambda *a, **kw: calls.append(kw))
    tree = {"run": {"name": "t", "seed": 0},
            "data": {"name": "moons", "n_samples": 200, "batch_size": 32},
            "model": {"name": "mlp", "hidden": [8, 8]},
            "trainer": {"epochs": 2, "device": "cpu"}}  # fmt: skip
    _, summary = api.train(write_config(tree), run_dir=tmp_path / "run")
    assert calls[-1]["layer_names"] == {"hidden.0": "linear 1", "hidden.2": "linear 2",
                                        "head": "linear 3 (output)"}  # fmt: skip
    assert calls[-1]["best"]["epoch"] == summary["best"]["epoch"]
