"""How good a GAN's samples are: pure functions over samples or classifier outputs.

2-D mixtures, the protocol of VEEGAN (Srivastava et al., NeurIPS 2017, section 5.1): a sample
is *high quality* within `quality_stds` (3) standard deviations of its nearest mode's centre;
a mode is *covered* when it holds at least `min_share` (1%) of the high-quality samples.
`mode_kl` is KL(p || uniform) of the histogram of every sample's nearest mode: 0 when the
modes are equally used, log(K) when one mode has everything.

Images: a classifier trained on the real images stands in for the centres. A sample is
*confident* when the classifier's top probability exceeds `confidence` (0.9); a class is
generated when it holds at least `min_share` of the confident samples; `class_kl` is the
KL from uniform of the predicted-class histogram of every sample.
"""

from __future__ import annotations

import math

import torch


def kl_from_uniform(counts: torch.Tensor) -> float:
    """KL(p || u) = sum p log(p K), with 0 log 0 = 0; counts [K]."""
    total = float(counts.sum())
    if total == 0:
        return float("nan")
    p = counts.double() / total
    nz = p[p > 0]
    return float((nz * (nz * len(counts)).log()).sum())


def _covered(counts: torch.Tensor, min_share: float) -> int:
    """Bins holding at least min_share of all counted samples (and at least one)."""
    total = float(counts.sum())
    if total == 0:
        return 0
    return int(((counts >= min_share * total) & (counts > 0)).sum())


def mixture_report(
    samples: torch.Tensor,
    centres: torch.Tensor,
    std: float,
    quality_stds: float = 3.0,
    min_share: float = 0.01,
) -> dict[str, float | int]:
    """samples [N, 2] and centres [K, 2] in the data's own units."""
    dist = torch.cdist(samples.double(), centres.double())  # [N, K]
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= quality_stds * std
    k = len(centres)
    good_counts = torch.bincount(nearest[good], minlength=k)
    all_counts = torch.bincount(nearest, minlength=k)
    return {
        "modes_covered": _covered(good_counts, min_share),
        "num_modes": k,
        "high_quality_fraction": float(good.double().mean()) if len(samples) else 0.0,
        "mode_kl": kl_from_uniform(all_counts),
    }


def classifier_report(
    probs: torch.Tensor, confidence: float = 0.9, min_share: float = 0.01
) -> dict[str, float | int]:
    """probs [N, C]: the judge classifier's softmax over the real classes."""
    top, label = probs.max(dim=1)
    sure = top > confidence
    c = probs.shape[1]
    return {
        "classes_generated": _covered(torch.bincount(label[sure], minlength=c), min_share),
        "num_classes": c,
        "confident_fraction": float(sure.double().mean()) if len(probs) else 0.0,
        "class_kl": kl_from_uniform(torch.bincount(label, minlength=c)),
    }


def headline(report: dict) -> dict[str, float]:
    """The per-epoch numbers of either kind under common names: quality (high-quality or
    confident fraction), coverage (share of modes or classes covered), kl, and score =
    quality x coverage, the default monitor: best.pt needs every mode *and* clean samples."""
    if "num_modes" in report:
        quality, kl = report["high_quality_fraction"], report["mode_kl"]
        coverage = report["modes_covered"] / report["num_modes"]
    else:
        quality, kl = report["confident_fraction"], report["class_kl"]
        coverage = report["classes_generated"] / report["num_classes"]
    kl = float("nan") if kl is None or math.isnan(kl) else kl
    return {"score": quality * coverage, "quality": quality, "coverage": coverage, "kl": kl}
