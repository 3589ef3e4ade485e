"""`mlcore.metrics`: the public Python API named in DESIGN.md, kept at this short path.
The code lives in mlcore/evaluation/ (metrics.py and accumulators.py)."""

from mlcore.evaluation.accumulators import ConfusionAccumulator, RegressionAccumulator
from mlcore.evaluation.metrics import (
    background_baseline,
    classification_report,
    confusion_matrix,
    majority_baseline,
    regression_report,
    segmentation_report,
    to_predictions,
)

__all__ = [
    "ConfusionAccumulator", "RegressionAccumulator", "classification_report",
    "confusion_matrix", "regression_report", "segmentation_report", "to_predictions",
    "majority_baseline", "background_baseline",
]  # fmt: skip
