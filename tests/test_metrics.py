"""mlcore.metrics against scikit-learn on seeded random data, a hand-checked golden fixture,
streaming, errors, and a 2-process all_reduce."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn import metrics as skm

from mlcore.errors import MlcoreError
from mlcore.evaluation.metrics import classification_headline
from mlcore.metrics import (
    ConfusionAccumulator,
    RegressionAccumulator,
    classification_report,
    confusion_matrix,
    regression_report,
    segmentation_report,
    to_predictions,
)

TOL = 1e-12
SCENARIOS = ("full", "absent", "pred_only", "true_only")


def _sample(c: int, n: int, scenario: str, ignore: int | None, seed: int):
    """(preds, target) int64 [n]. scenario picks which classes may occur where:
    absent: one class in neither; pred_only: one class only predicted; true_only: one class
    never predicted. With ignore, ~20% of targets become ignore and their predictions random."""
    g = torch.Generator().manual_seed(seed)
    k = int(torch.randint(c, (1,), generator=g))  # the special class
    others = torch.tensor([i for i in range(c) if i != k] or [k])
    every = torch.arange(c)
    true_set = every if scenario in ("full", "true_only") else others
    pred_set = every if scenario in ("full", "pred_only") else others
    target = true_set[torch.randint(len(true_set), (n,), generator=g)]
    noise = pred_set[torch.randint(len(pred_set), (n,), generator=g)]
    # Keep the right answer 60% of the time, where the scenario allows predicting it.
    hit = (torch.rand(n, generator=g) < 0.6) & torch.isin(target, pred_set)
    preds = torch.where(hit, target, noise)
    if ignore is not None:
        target = torch.where(torch.rand(n, generator=g) < 0.2, torch.tensor(ignore), target)
    return preds, target


def _valid(preds, target, ignore):
    p, t = preds.reshape(-1).numpy(), target.reshape(-1).numpy()
    keep = np.ones_like(t, dtype=bool) if ignore is None else t != ignore
    return p[keep], t[keep]


CASES = [
    (c, s, ig, seed)
    for c in (2, 3, 4, 7, 13, 20)
    for s in SCENARIOS
    for ig in (None, 255, -1)
    for seed in (0, 1)
]


@pytest.mark.parametrize("c,scenario,ignore,seed", CASES)
def test_classification_matches_sklearn(c, scenario, ignore, seed):
    preds, target = _sample(c, 300, scenario, ignore, seed)
    cm = confusion_matrix(preds, target, c, ignore_index=ignore)
    p, t = _valid(preds, target, ignore)
    assert cm.dtype == torch.int64 and cm.shape == (c, c)
    np.testing.assert_array_equal(cm.numpy(), skm.confusion_matrix(t, p, labels=range(c)))

    rep = classification_report(cm)
    assert rep["accuracy"] == pytest.approx(skm.accuracy_score(t, p), abs=TOL)
    for avg in ("macro", "micro", "weighted"):
        ref = skm.precision_recall_fscore_support(t, p, average=avg, zero_division=0)
        assert [rep[avg][k] for k in ("precision", "recall", "f1")] == pytest.approx(
            ref[:3], abs=TOL
        ), avg
    # what each epoch logs, computed alone: the very same numbers
    assert classification_headline(cm) == {"accuracy": rep["accuracy"], "macro": rep["macro"]}
    # labels=None: scikit-learn reports the union of labels in t and p, our non-null classes.
    labels = np.union1d(t, p)
    ref = skm.precision_recall_fscore_support(t, p, average=None, zero_division=0)
    rows = {r["label"]: r for r in rep["per_class"]}
    for j, lab in enumerate(labels):
        got = [rows[int(lab)][k] for k in ("precision", "recall", "f1", "support")]
        assert got == pytest.approx([ref[0][j], ref[1][j], ref[2][j], ref[3][j]], abs=TOL)
    for lab in set(range(c)) - set(labels.tolist()):
        assert rows[lab]["precision"] is None and rows[lab]["f1"] is None
    for r in rep["per_class"]:  # the four counts partition the samples
        assert r["tp"] + r["fp"] + r["fn"] + r["tn"] == len(t)
    if c == 2:
        for pos in (0, 1):
            ref = skm.precision_recall_fscore_support(
                t, p, average="binary", pos_label=pos, zero_division=0
            )
            b = classification_report(cm, positive_class=pos)["binary"]
            assert b["positive_class"] == pos
            assert [b["precision"], b["recall"], b["f1"]] == pytest.approx(ref[:3], abs=TOL)
    else:
        assert "binary" not in rep


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.filterwarnings("ignore:A single label was found")
@pytest.mark.parametrize("c,scenario,ignore,seed", CASES[::2])
def test_segmentation_matches_sklearn(c, scenario, ignore, seed):
    preds, target = _sample(c, 2 * 8 * 12, scenario, ignore, seed)
    preds, target = preds.reshape(2, 8, 12), target.reshape(2, 8, 12)  # [N, H, W]
    rep = segmentation_report(confusion_matrix(preds, target, c, ignore_index=ignore))
    p, t = _valid(preds, target, ignore)
    labels = np.union1d(t, p)
    ref_iou = skm.jaccard_score(t, p, average=None, zero_division=0)
    assert [rep["iou"][lab] for lab in labels] == pytest.approx(ref_iou, abs=TOL)
    assert all(rep["iou"][k] is None for k in set(range(c)) - set(labels.tolist()))
    ref_miou = skm.jaccard_score(t, p, average="macro", zero_division=0)
    assert rep["miou"] == pytest.approx(ref_miou, abs=TOL)
    assert rep["pixel_accuracy"] == pytest.approx(skm.accuracy_score(t, p), abs=TOL)
    assert rep["mean_accuracy"] == pytest.approx(skm.balanced_accuracy_score(t, p), abs=TOL)


def test_golden_segmentation():
    # 4 classes, 255 ignored. Pairs (true, pred) over the 13 valid pixels:
    #   image 0: (0,0) x3, (0,2), (1,1) x2, (1,0); its (255, 3) pixel is dropped.
    #   image 1: (1,1) x5, (1,0);                  its two 255 pixels are dropped.
    # cm rows true: [[3,0,1,0], [2,7,0,0], [0,0,0,0], [0,0,0,0]]; 10 correct of 13.
    # IoU: c0 3/(3+2+1) = 0.5; c1 7/(7+0+2) = 7/9; c2 0/(0+1+0) = 0 (predicted, never true);
    #      c3 null (only predicted at an ignored pixel). mIoU = (0.5 + 7/9 + 0) / 3 = 0.425926.
    # Class accuracy (recall) over classes in the target: c0 3/4, c1 7/9 -> mean 0.763889.
    target = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 255]], [[1, 1, 1, 1], [1, 1, 255, 255]]])
    pred = torch.tensor([[[0, 0, 1, 0], [0, 2, 1, 3]], [[1, 1, 1, 1], [1, 0, 0, 1]]])
    cm = confusion_matrix(pred, target, 4, ignore_index=255)
    assert cm.tolist() == [[3, 0, 1, 0], [2, 7, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    rep = segmentation_report(cm)
    assert rep["pixel_accuracy"] == pytest.approx(10 / 13, abs=TOL)
    assert rep["iou"] == pytest.approx([0.5, 7 / 9, 0.0, None], abs=TOL)
    assert rep["miou"] == pytest.approx((0.5 + 7 / 9) / 3, abs=TOL)
    assert round(rep["miou"], 5) == 0.42593
    assert rep["mean_accuracy"] == pytest.approx((3 / 4 + 7 / 9) / 2, abs=TOL)
    assert round(rep["mean_accuracy"], 5) == 0.76389
    # The wrong way, mIoU per image then averaged: image 0 (3/5 + 2/3 + 0) / 3 = 0.42222,
    # image 1 (0 + 5/6) / 2 = 0.41667 (class 0 only predicted) -> 0.41944. Not what we report.
    per_image = [
        segmentation_report(confusion_matrix(pred[i], target[i], 4, 255))["miou"] for i in (0, 1)
    ]
    assert sum(per_image) / 2 == pytest.approx((0.6 + 2 / 3) / 6 + 5 / 24, abs=TOL)
    assert abs(sum(per_image) / 2 - rep["miou"]) > 5e-3
    # Whatever is predicted at an ignored pixel does not count.
    other = pred.clone()
    other[target == 255] = 0
    assert torch.equal(confusion_matrix(other, target, 4, ignore_index=255), cm)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ignore", [None, 255])
def test_any_batch_split_gives_the_same_matrix(seed, ignore):
    c = 5
    preds, target = _sample(c, 4 * 6 * 7, "pred_only", ignore, seed)
    preds, target = preds.reshape(4, 6, 7), target.reshape(4, 6, 7)
    whole = confusion_matrix(preds, target, c, ignore)
    g = torch.Generator().manual_seed(seed)
    # Random cut points over samples; logits whose argmax is preds, [B, C, H, W].
    cuts = sorted(set(torch.randint(1, 4, (2,), generator=g).tolist()))
    logits = torch.nn.functional.one_hot(preds, c).permute(0, 3, 1, 2) * 5.0
    logits = logits + torch.rand(logits.shape, generator=g)
    acc = ConfusionAccumulator(c, ignore_index=ignore)
    for lo, hi in zip([0, *cuts], [*cuts, 4], strict=True):
        acc.update(logits[lo:hi], target[lo:hi])
    assert torch.equal(acc.matrix, whole)
    # Flattened pixels in uneven chunks, as indices.
    acc.reset()
    for chunk_p, chunk_t in zip(
        preds.reshape(-1).split(17), target.reshape(-1).split(17), strict=True
    ):
        acc.update(chunk_p, chunk_t)
    assert torch.equal(acc.matrix, whole)


@pytest.mark.parametrize(
    "preds,target,ignore,needle",
    [
        ([0, 1, 3], [0, 1, 2], None, "preds contains 3, outside the allowed range [0, 2]"),
        ([0, -1, 2], [0, 1, 2], None, "preds contains -1"),
        ([0, 1, 2], [0, 3, 2], None, "target contains 3, outside the allowed range [0, 2]"),
        ([0, 1, 2], [0, -1, 2], None, "target contains -1"),
        ([0, 1, 2], [0, 254, 255], 255, "target contains 254"),
        ([0, 1, 2], [0, 1, 255], -100, "target contains 255"),
    ],
)
def test_out_of_range_raises(preds, target, ignore, needle):
    with pytest.raises(MlcoreError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        confusion_matrix(torch.tensor(preds), torch.tensor(target), 3, ignore_index=ignore)


def test_other_input_errors():
    with pytest.raises(MlcoreError, match="same shape"):
        confusion_matrix(torch.zeros(4, dtype=torch.long), torch.zeros(5, dtype=torch.long), 3)
    with pytest.raises(MlcoreError, match="fractional"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0.0, 0.5]), 3)
    # Whole-number floats (BCE targets) and [N, 1] vs [N] are accepted.
    cm = confusion_matrix(torch.tensor([[1], [0]]), torch.tensor([1.0, 1.0]), 2)
    assert cm.tolist() == [[0, 0], [1, 1]]
    cm = torch.tensor([[1, 2], [3, 4]])
    with pytest.raises(MlcoreError, match="positive_class"):
        classification_report(cm, positive_class=2)
    with pytest.raises(MlcoreError, match="binary"):
        classification_report(torch.eye(3, dtype=torch.long), positive_class=1)
    with pytest.raises(MlcoreError, match="class names"):
        classification_report(cm, class_names=["a"])
    with pytest.raises(MlcoreError, match="square integer"):
        segmentation_report(cm.double())


def test_to_predictions():
    idx = torch.tensor([2, 0, 1])
    assert to_predictions(idx) is idx
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]])  # [N, C]
    assert to_predictions(logits).tolist() == [1, 0]
    probs = logits.softmax(1)
    assert torch.equal(to_predictions(probs), to_predictions(logits))
    seg = torch.randn(2, 4, 3, 5, generator=torch.Generator().manual_seed(0))  # [N, C, H, W]
    assert torch.equal(to_predictions(seg), seg.argmax(1))
    # A single logit per sample: sigmoid(x) >= threshold. sigmoid(0) = 0.5, sigmoid(1) = 0.73.
    single = torch.tensor([-2.0, 0.0, 1.0])
    assert to_predictions(single).tolist() == [0, 1, 1]
    assert to_predictions(single[:, None]).tolist() == [0, 1, 1]  # [N, 1] -> [N]
    assert to_predictions(single, threshold=0.8).tolist() == [0, 0, 0]
    assert to_predictions(single, threshold=0.7).tolist() == [0, 0, 1]
    assert to_predictions(torch.tensor([True, False])).dtype == torch.int64
    acc = ConfusionAccumulator(2, threshold=0.7)
    acc.update(single[:, None], torch.tensor([0, 0, 1]))
    assert acc.matrix.tolist() == [[2, 0], [0, 1]]


def test_empty_and_edge_reports():
    rep = classification_report(torch.zeros(3, 3, dtype=torch.long))
    assert rep["accuracy"] == 0.0 and rep["macro"]["f1"] == 0.0
    assert all(r["f1"] is None for r in rep["per_class"])
    names = ["cat", "dog"]
    rep = classification_report(torch.tensor([[5, 0], [0, 0]]), class_names=names)
    assert [r["label"] for r in rep["per_class"]] == names
    # Only class 0 occurs: the positive class 1 has 0.0 (sklearn), not null, in `binary`.
    assert rep["binary"] == {"positive_class": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert rep["macro"]["f1"] == 1.0  # class 1 is null and left out
    import json

    json.dumps(rep)  # plain Python values only
    json.dumps(segmentation_report(torch.eye(3, dtype=torch.long)))


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("seed", range(3))
def test_regression_matches_sklearn(outputs, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(101, outputs, generator=g) * 3 + 2
    pred = y + torch.randn(101, outputs, generator=g)
    acc = RegressionAccumulator()
    for lo in range(0, 101, 23):  # uneven batches
        acc.update(pred[lo : lo + 23].squeeze(1) if outputs == 1 else pred[lo : lo + 23],
                   y[lo : lo + 23])  # fmt: skip
    got = acc.compute()
    yn, pn = y.double().numpy(), pred.double().numpy()
    assert acc.n == 101
    assert got["mse"] == pytest.approx(skm.mean_squared_error(yn, pn), abs=TOL)
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(yn, pn), abs=TOL)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(yn, pn), abs=TOL)
    assert got["r2"] == pytest.approx(skm.r2_score(yn, pn), abs=1e-10)
    assert regression_report(acc) == got


def test_regression_edges():
    y = torch.full((5,), 2.5)
    for pred in (y, y + 1):  # constant target: sklearn's r2 is 1.0 if perfect, else 0.0
        acc = RegressionAccumulator()
        acc.update(pred, y)
        assert acc.compute()["r2"] == skm.r2_score(y.numpy(), pred.numpy())
    with pytest.raises(MlcoreError, match="at least one sample"):
        RegressionAccumulator().compute()
    with pytest.raises(MlcoreError, match="shapes differ"):
        RegressionAccumulator().update(torch.zeros(4), torch.zeros(5))
    state = RegressionAccumulator(num_outputs=2)
    before = state.sums()["sse"].numel()
    for _ in range(50):
        state.update(torch.randn(8, 2), torch.randn(8, 2))
    assert state.sums()["sse"].numel() == before  # running sums: no growth with batches


def test_all_reduce_without_distributed_is_a_no_op():
    acc = ConfusionAccumulator(3)
    acc.update(torch.tensor([0, 1]), torch.tensor([0, 2]))
    before = acc.matrix.clone()
    acc.all_reduce()
    assert torch.equal(acc.matrix, before)


def _rank_data(rank: int):
    preds, target = _sample(6, 200 + 50 * rank, "pred_only", 255, seed=10 + rank)
    y = torch.arange(7 + rank, dtype=torch.float64)
    return preds, target, y, y * 0.5 + rank


def _ddp_worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        preds, target, y, yhat = _rank_data(rank)
        acc = ConfusionAccumulator(6, ignore_index=255)
        acc.update(preds, target)
        acc.all_reduce()
        reg = RegressionAccumulator(num_outputs=1)
        reg.update(yhat, y)
        reg.all_reduce()
        torch.save({"cm": acc.matrix, "reg": reg.compute()}, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_all_reduce_sums_across_two_processes(tmp_path):
    mp.spawn(_ddp_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    data = [_rank_data(r) for r in (0, 1)]
    preds = torch.cat([d[0] for d in data])
    target = torch.cat([d[1] for d in data])
    expected = confusion_matrix(preds, target, 6, ignore_index=255)
    y = torch.cat([d[2] for d in data]).numpy()
    yhat = torch.cat([d[3] for d in data]).numpy()
    for rank in (0, 1):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert torch.equal(got["cm"], expected)
        assert got["reg"]["mse"] == pytest.approx(skm.mean_squared_error(y, yhat), abs=TOL)
        assert got["reg"]["r2"] == pytest.approx(skm.r2_score(y, yhat), abs=1e-10)


def test_label_dtypes_and_ignored_pixels():
    preds = torch.tensor([0, 1, 2, 1])
    # uint8 masks: -100 would wrap to 156 in a uint8 comparison; it must not drop the 156.
    with pytest.raises(MlcoreError, match="target contains 156"):
        confusion_matrix(preds, torch.tensor([0, 1, 156, 1], dtype=torch.uint8), 3, -100)
    masks = torch.tensor([0, 1, 255, 1], dtype=torch.uint8)
    expected = [[1, 0, 0], [0, 2, 0], [0, 0, 0]]
    assert confusion_matrix(preds, masks, 3, 255).tolist() == expected
    assert confusion_matrix(preds.int(), masks.int(), 3, 255).tolist() == expected
    # The prediction at an ignored pixel is dropped with it, whatever its value.
    assert confusion_matrix(torch.tensor([0, 1, 7, 1]), masks, 3, 255).tolist() == expected
