"""Metrics: pure functions over one int64 confusion matrix (accumulators.py holds the state).

Every classification and segmentation number is derived from a single [C, C] count matrix
summed over the whole split (and across processes), never averaged per batch or per image.
Semantics are scikit-learn's (>= 1.4) with `labels=None, zero_division=0`, and mmsegmentation's
/ Cityscapes' for IoU: a class with tp + fp + fn = 0 is null and left out of every average;
any other zero denominator gives 0.0. Runtime depends on torch only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mlcore.errors import MlcoreError

# ---------------------------------------------------------------------------- confusion matrix


def _as_labels(x: Tensor, name: str) -> Tensor:
    """Class indices as int64; float tensors are accepted only when they hold whole numbers."""
    if x.dtype == torch.bool:
        return x.long()
    if x.is_floating_point():
        # e.g. 0./1. targets kept for BCE; anything fractional is a caller bug, not a label.
        if not torch.equal(x, x.round()):
            raise MlcoreError(f"{name} must hold class indices, got fractional values ({x.dtype})")
        return x.long()
    if x.is_complex():
        raise MlcoreError(f"{name} must hold class indices, got {x.dtype}")
    return x.long()


def _check_range(
    x: Tensor, name: str, num_classes: int, extra: str = "", keep: Tensor | None = None
) -> None:
    """Raise if a value of the 1-D tensor x (where keep, if given) lies outside [0, C)."""
    if x.numel() == 0:
        return
    lo, hi = torch.aminmax(x)  # one pass, one device sync
    if lo >= 0 and hi < num_classes:
        return
    bad = (
        x[(x < 0) | (x >= num_classes)]
        if keep is None
        else x[((x < 0) | (x >= num_classes)) & keep]
    )
    if bad.numel() > 0:
        raise MlcoreError(
            f"{name} contains {int(bad[0])}, outside the allowed range [0, {num_classes - 1}] "
            f"for num_classes={num_classes}{extra}"
        )


def confusion_matrix(
    preds: Tensor, target: Tensor, num_classes: int, ignore_index: int | None = None
) -> Tensor:
    """Count matrix [C, C] (int64, rows = true class, columns = predicted) on the inputs' device.

    preds and target are class indices of the same shape, any shape ([N], [N, H, W], ...).
    Pixels whose target equals ignore_index are dropped with their predictions; any other
    value outside [0, C) raises MlcoreError.
    """
    if num_classes < 1:
        raise MlcoreError(f"num_classes must be >= 1, got {num_classes}")
    # [N, 1] against [N] is the same thing; anything else must match exactly.
    if preds.shape != target.shape and preds.squeeze().shape != target.squeeze().shape:
        raise MlcoreError(
            f"preds and target must have the same shape, got {tuple(preds.shape)} "
            f"and {tuple(target.shape)}"
        )
    p = _as_labels(preds, "preds").reshape(-1)  # [M]
    t = _as_labels(target, "target").reshape(-1).to(p.device)  # [M]
    bins = num_classes * num_classes
    if ignore_index is None:
        _check_range(t, "target", num_classes)
        _check_range(p, "preds", num_classes)
        # Each (true, pred) pair gets one bin; an unweighted bincount is deterministic on CUDA.
        counts = torch.bincount(torch.add(p, t, alpha=num_classes), minlength=bins)
    else:
        # Ignored pixels go to one extra bin that is cut off afterwards: cheaper than boolean
        # indexing, which copies both tensors (3-4x slower for 10M pixels on CPU).
        drop = t == ignore_index
        t = t.masked_fill(drop, 0)
        _check_range(t, "target", num_classes, f" (ignore_index={ignore_index} is dropped)")
        _check_range(p, "preds", num_classes, "", ~drop)
        idx = torch.add(p, t, alpha=num_classes).masked_fill_(drop, bins)
        counts = torch.bincount(idx, minlength=bins + 1)[:bins]
    return counts.reshape(num_classes, num_classes)


def to_predictions(output: Tensor, threshold: float = 0.5) -> Tensor:
    """Class indices (int64) from a model's output.

    - integer or bool tensor: already indices, returned unchanged (bool as int64);
    - float with a class dim of size C > 1 ([N, C] or [N, C, H, W], logits or probabilities):
      argmax over dim 1;
    - a single *logit* per sample ([N], [N, 1] or [N, 1, H, W]): sigmoid(x) >= threshold.
      It is read as a logit, not a probability: pass probabilities as [N, 2] instead.
    """
    if output.dtype == torch.bool:
        return output.long()
    if not output.is_floating_point():
        return output
    if output.ndim >= 2 and output.shape[1] > 1:
        return output.argmax(dim=1)
    single = output.squeeze(1) if output.ndim >= 2 else output  # [N, 1, ...] -> [N, ...]
    return (torch.sigmoid(single) >= threshold).long()


# ------------------------------------------------------------------------------------- reports


def _div(num: Tensor, den: Tensor) -> Tensor:
    """num / den elementwise, 0.0 where den == 0 (scikit-learn's zero_division=0)."""
    return torch.where(den > 0, num / den.clamp(min=1), torch.zeros_like(num))


def _mean(values: Tensor, keep: Tensor, weights: Tensor | None = None) -> float:
    """(Weighted) mean of values over the entries where keep is true; 0.0 for none."""
    w = keep.double() if weights is None else weights * keep
    total = float(w.sum())
    return float((values * w).sum()) / total if total > 0 else 0.0


def _nullable(values: Tensor, keep: Tensor) -> list[float | None]:
    return [float(v) if k else None for v, k in zip(values.tolist(), keep.tolist(), strict=True)]


def _counts(cm: Tensor) -> dict[str, Tensor]:
    """tp, fp, fn, tn, support per class ([C] float64 each) from a [C, C] count matrix."""
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.is_floating_point():
        raise MlcoreError(f"expected a square integer confusion matrix, got {cm.dtype} "
                          f"{tuple(cm.shape)}")  # fmt: skip
    m = cm.detach().to("cpu", torch.float64)  # float64 holds counts exactly below 2**53
    if bool((m < 0).any()):
        raise MlcoreError("confusion matrix has negative counts")
    tp = m.diagonal()
    support = m.sum(dim=1)  # true count per class
    fp = m.sum(dim=0) - tp
    fn = support - tp
    return {"tp": tp, "fp": fp, "fn": fn, "tn": m.sum() - tp - fp - fn, "support": support}


def _labels(num_classes: int, class_names: list[str] | None) -> list[str] | list[int]:
    if class_names is None:
        return list(range(num_classes))
    if len(class_names) != num_classes:
        raise MlcoreError(f"got {len(class_names)} class names for {num_classes} classes")
    return list(class_names)


def _prf(tp: Tensor, fp: Tensor, fn: Tensor) -> dict[str, Tensor]:
    # F1 from counts, 2tp / (2tp + fp + fn): scikit-learn >= 1.3 computes it this way, so a
    # class with precision and recall both 0/0 gets 0.0 rather than a NaN.
    return {
        "precision": _div(tp, tp + fp),
        "recall": _div(tp, tp + fn),
        "f1": _div(2 * tp, 2 * tp + fp + fn),
    }


def classification_report(
    cm: Tensor, positive_class: int | None = None, class_names: list[str] | None = None
) -> dict:
    """The DESIGN.md classification report (no task/split/num_samples) from a [C, C] matrix,
    with `baseline`: the accuracy of always predicting the most frequent true class."""
    c = _counts(cm)
    n = c["tp"].numel()
    labels = _labels(n, class_names)
    present = (c["tp"] + c["fp"] + c["fn"]) > 0  # the union of labels in target and prediction
    per = _prf(c["tp"], c["fp"], c["fn"])
    micro = _prf(c["tp"].sum(), c["fp"].sum(), c["fn"].sum())
    counts = {k: [int(x) for x in c[k].tolist()] for k in ("tp", "fp", "fn", "tn", "support")}
    values = {k: _nullable(v, present) for k, v in per.items()}
    report = {
        "accuracy": float(_div(c["tp"].sum(), c["support"].sum())),
        "macro": {k: _mean(v, present) for k, v in per.items()},
        "micro": {k: float(v) for k, v in micro.items()},
        "weighted": {k: _mean(v, present, c["support"]) for k, v in per.items()},
        "per_class": [
            {
                "label": labels[i],
                **{k: counts[k][i] for k in ("tp", "fp", "fn", "tn")},
                **{k: values[k][i] for k in per},
                "support": counts["support"][i],
            }
            for i in range(n)
        ],
        "confusion_matrix": cm.tolist(),
        "baseline": majority_baseline(cm, class_names),
    }
    if n == 2:
        pos = 1 if positive_class is None else positive_class
        if pos not in (0, 1):
            raise MlcoreError(f"positive_class must be 0 or 1 for two classes, got {pos}")
        # Like scikit-learn's average='binary': 0.0 (not null) when the class never occurs.
        report["binary"] = {"positive_class": pos, **{k: float(v[pos]) for k, v in per.items()}}
    elif positive_class is not None:
        raise MlcoreError(
            f"positive_class={positive_class} applies to binary classification only, "
            f"but there are {n} classes"
        )
    return report


def classification_headline(cm: Tensor) -> dict:
    """accuracy and the macro averages of classification_report, the same numbers, alone:
    what an epoch logs (val/accuracy, val/f1) at under half the full report's cost (no
    per-class lists, micro, weighted or baseline), which every epoch of training pays."""
    c = _counts(cm)
    present = (c["tp"] + c["fp"] + c["fn"]) > 0
    return {
        "accuracy": float(_div(c["tp"].sum(), c["support"].sum())),
        "macro": {k: _mean(v, present) for k, v in _prf(c["tp"], c["fp"], c["fn"]).items()},
    }


def segmentation_report(cm: Tensor, class_names: list[str] | None = None) -> dict:
    """The DESIGN.md segmentation report from a [C, C] pixel matrix (ignored pixels excluded).

    IoU = tp / (tp + fp + fn), mIoU = mean over classes that are not null (mmsegmentation,
    Cityscapes). mean_accuracy = mean per-class recall over classes present in the target
    (scikit-learn's balanced_accuracy_score). Extra keys: `class_accuracy` (per-class recall,
    null for a class absent from the target), `support` (true pixels per class), `labels`;
    `baseline`: the same figures for predicting background (class 0) everywhere.
    """
    c = _counts(cm)
    present = (c["tp"] + c["fp"] + c["fn"]) > 0
    in_target = c["support"] > 0
    iou = _div(c["tp"], c["tp"] + c["fp"] + c["fn"])
    acc = _div(c["tp"], c["support"])
    return {
        "pixel_accuracy": float(_div(c["tp"].sum(), c["support"].sum())),
        "mean_accuracy": _mean(acc, in_target),
        "iou": _nullable(iou, present),
        "miou": _mean(iou, present),
        "class_accuracy": _nullable(acc, in_target),
        "support": [int(s) for s in c["support"].tolist()],
        "labels": _labels(c["tp"].numel(), class_names),
        "confusion_matrix": cm.tolist(),
        "baseline": background_baseline(cm),
    }


# ----------------------------------------------------------------------------------- baselines


def _constant_prediction(cm: Tensor, label: int) -> Tensor:
    """The confusion matrix of always predicting `label`: every true count in its column."""
    out = torch.zeros_like(cm, device="cpu")
    out[:, label] = cm.detach().cpu().sum(dim=1)
    return out


def majority_baseline(cm: Tensor, class_names: list[str] | None = None) -> dict:
    """Always predicting the split's most frequent class (ties: the lowest index), the
    figure any accuracy must beat; scikit-learn's DummyClassifier(strategy="most_frequent")
    fitted on the evaluated split itself. Derived from the row sums of the same matrix."""
    c = _counts(cm)
    majority = int(torch.argmax(c["support"]))  # the first of equal maxima
    return {
        "majority_class": _labels(c["tp"].numel(), class_names)[majority],
        "accuracy": float(_div(c["support"][majority], c["support"].sum())),
    }


def background_baseline(cm: Tensor, background: int = 0) -> dict:
    """Predicting `background` for every pixel: what a high pixel accuracy must be compared
    with when background dominates. Its mIoU follows the model's rules (a class absent from
    the target is null, as the all-background prediction never predicts it)."""
    _counts(cm)  # validates the matrix
    if not 0 <= background < cm.shape[0]:
        raise MlcoreError(f"background class {background} is outside [0, {cm.shape[0] - 1}]")
    c = _counts(_constant_prediction(cm, background))
    present = (c["tp"] + c["fp"] + c["fn"]) > 0
    return {
        "pixel_accuracy": float(_div(c["tp"].sum(), c["support"].sum())),
        "miou": _mean(_div(c["tp"], c["tp"] + c["fp"] + c["fn"]), present),
    }


def regression_report(sums: dict | Any, baseline_mean: Any = None) -> dict:
    """mse, rmse, mae, r2 from running sums (or anything with `.sums()`, e.g. a
    RegressionAccumulator); float64 throughout.

    sums: n (samples) and per-output [D] tensors sse, sae, sum_y, sum_y2. Multi-output
    values are averaged over outputs, like scikit-learn's multioutput='uniform_average'.
    baseline_mean [D]: add `baseline: {mse, r2}` of predicting that constant (the training
    split's mean) for every sample: sum (y - m)^2 = sum y^2 - 2 m sum y + n m^2.
    """
    if hasattr(sums, "sums"):
        sums = sums.sums()
    n = float(sums["n"])
    if n == 0:
        raise MlcoreError("a regression report needs at least one sample")
    sse, sae, sum_y, sum_y2 = (
        torch.as_tensor(sums[k], dtype=torch.float64) for k in ("sse", "sae", "sum_y", "sum_y2")
    )
    # SST = sum (y - mean)^2 = sum y^2 - (sum y)^2 / n. This loses digits when |mean| >> std
    # (relative error ~ 1e-16 * mean^2 / var); fine for the data sets mlcore trains on. Below
    # that rounding floor the target is taken as constant.
    sst = sum_y2 - sum_y**2 / n
    constant = sst <= 8 * torch.finfo(torch.float64).eps * sum_y2
    # scikit-learn's r2_score (force_finite=True): for a constant target 1.0 if the fit is
    # perfect, else 0.0.
    r2 = torch.where(constant, (sse == 0).double(), 1.0 - sse / torch.where(constant, 1.0, sst))
    mse = sse / n  # [D]
    # rmse per output then averaged, like scikit-learn's root_mean_squared_error.
    report = {
        "mse": float(mse.mean()),
        "rmse": float(mse.sqrt().mean()),
        "mae": float(sae.mean()) / n,
        "r2": float(r2.mean()),
    }
    if baseline_mean is not None:
        m = torch.as_tensor(baseline_mean, dtype=torch.float64).reshape(-1)
        sse_b = (sum_y2 - 2 * m * sum_y + n * m**2).clamp_min(0)
        r2_b = torch.where(
            constant, (sse_b == 0).double(), 1.0 - sse_b / torch.where(constant, 1.0, sst)
        )
        report["baseline"] = {"mse": float((sse_b / n).mean()), "r2": float(r2_b.mean())}
    return report
