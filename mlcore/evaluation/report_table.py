"""A report dict (DESIGN.md "Reports") as Rich renderables. The caller prints them.

Works from the plain dict alone, so a report read back from summary.json renders the same.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mlcore.evaluation.model_table import render_model_section

# Largest / smallest class support above which accuracy stops saying much about the
# small classes (a classifier that ignores them still scores >= 75%).
IMBALANCE_RATIO = 3.0
# Beyond this many classes the confusion matrix no longer fits a terminal; the PNG has it.
MAX_MATRIX_CLASSES = 25
DISPLAY = {"pixel_accuracy": "pixel accuracy", "mean_accuracy": "mean accuracy", "miou": "mIoU"}


def render_report(report: dict, class_names: list[str] | None = None) -> list[RenderableType]:
    """Tables and notes for a classification, segmentation or regression report."""
    task = report.get("task")
    if task == "classification":
        out = _classification(report, class_names)
    elif task == "segmentation":
        out = _segmentation(report, class_names)
    elif task == "regression":
        out = [_title(report), _scalars(report, ("mse", "rmse", "mae", "r2"))]
        base = report.get("baseline")  # absent from reports written before it existed
        if base:
            out.append(
                f"baseline (always the training mean): mse {_fmt(base['mse'])}, "
                f"r2 {_fmt(base['r2'])}"
            )
    else:
        keys = tuple(
            k for k, v in report.items() if isinstance(v, int | float) and k != "num_samples"
        )
        out = [_title(report), _scalars(report, keys)]
    if report.get("model"):
        out += render_model_section(report["model"])
    return out


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "—"
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def _title(report: dict) -> Text:
    # A heading line rather than a table title: Rich wraps titles to the table's width.
    parts = [report.get("task", "report"), report.get("split")]
    if report.get("num_samples") is not None:
        parts.append(f"{report['num_samples']} samples")
    return Text(" · ".join(str(p) for p in parts if p is not None), style="bold")


def _names(report: dict, class_names: list[str] | None, n: int) -> list[str]:
    if class_names is not None:
        return [str(c) for c in class_names]
    if "per_class" in report:
        return [str(r["label"]) for r in report["per_class"]]
    return [str(c) for c in report.get("labels", range(n))]


def _scalars(report: dict, keys: tuple[str, ...]) -> Table:
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in keys:
        if key in report:
            table.add_row(DISPLAY.get(key, key), _fmt(report[key]))
    return table


def _classification(report: dict, class_names: list[str] | None) -> list[RenderableType]:
    rows = report["per_class"]
    names = _names(report, class_names, len(rows))
    table = Table()
    for col in ("class", "precision", "recall", "f1", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, r in zip(names, rows, strict=True):
        table.add_row(name, _fmt(r["precision"]), _fmt(r["recall"]), _fmt(r["f1"]),
                      str(r["support"]))  # fmt: skip
    total = sum(r["support"] for r in rows)
    table.add_section()
    for avg in ("macro", "micro", "weighted"):
        a = report[avg]
        table.add_row(f"{avg} avg", _fmt(a["precision"]), _fmt(a["recall"]), _fmt(a["f1"]),
                      str(total))  # fmt: skip
    if "binary" in report:
        b = report["binary"]
        table.add_row(f"binary (positive: {names[b['positive_class']]})", _fmt(b["precision"]),
                      _fmt(b["recall"]), _fmt(b["f1"]), "")  # fmt: skip
    table.add_row("accuracy", "", "", _fmt(report["accuracy"]), str(total), style="bold")
    base = report.get("baseline")  # absent from reports written before baselines existed
    if base:
        always = _majority_name(base["majority_class"], names)
        table.add_row(f"baseline (always {always!r})", "", "", _fmt(base["accuracy"]), "",
                      style="dim")  # fmt: skip
    out: list[RenderableType] = [_title(report), table]
    if "confusion_matrix" in report:
        out.append(_matrix(report["confusion_matrix"], names))
    out.extend(_classification_notes(report, names))
    return out


def _majority_name(label: str | int, names: list[str]) -> str:
    """The majority class as the table names it (an index when the report has no names)."""
    if isinstance(label, int) and 0 <= label < len(names):
        return names[label]
    return str(label)


def _matrix(cm: list[list[int]], names: list[str]) -> RenderableType:
    if len(cm) > MAX_MATRIX_CLASSES:
        return Text(f"Confusion matrix not shown for {len(cm)} classes: see the plot or the "
                    "report's confusion_matrix.", style="dim")  # fmt: skip
    heading = Text("Confusion matrix (rows: true class, columns: predicted)", style="bold")
    table = Table()
    table.add_column("true \\ pred")
    for name in names:
        table.add_column(name, justify="right")
    for i, (name, row) in enumerate(zip(names, cm, strict=True)):
        cells = [f"[bold green]{v}[/]" if j == i else str(v) for j, v in enumerate(row)]
        table.add_row(name, *cells)
    return Group(heading, table)


def _classification_notes(report: dict, names: list[str]) -> list[Text]:
    notes = []
    rows = report["per_class"]
    supports = [r["support"] for r in rows if r["support"] > 0]
    if supports and max(supports) / min(supports) > IMBALANCE_RATIO:
        hi, lo = max(supports), min(supports)
        notes.append(Text(
            f"Note: the classes are imbalanced (largest/smallest support {hi}/{lo} = "
            f"{hi / lo:.1f}): accuracy {report['accuracy']:.4f} is misleading; look at macro F1 "
            f"{report['macro']['f1']:.4f}.",
            style="yellow",
        ))  # fmt: skip
    absent = [n for n, r in zip(names, rows, strict=True) if r["f1"] is None]
    if absent:
        notes.append(Text(f"Note: absent from target and prediction, left out of the macro "
                          f"and weighted averages: {', '.join(absent)}.", style="dim"))  # fmt: skip
    return notes


def _segmentation(report: dict, class_names: list[str] | None) -> list[RenderableType]:
    iou = report["iou"]
    names = _names(report, class_names, len(iou))
    summary = _scalars(report, ("pixel_accuracy", "mean_accuracy", "miou"))
    base = report.get("baseline")
    if base:  # what predicting background everywhere scores: pixel accuracy's blind spot
        bg = names[0] if names else "0"
        summary.add_row(f"baseline pixel accuracy (all {bg!r})", _fmt(base["pixel_accuracy"]),
                        style="dim")  # fmt: skip
        summary.add_row(f"baseline mIoU (all {bg!r})", _fmt(base["miou"]), style="dim")
    cm = report.get("confusion_matrix")
    support = report.get("support") or ([sum(row) for row in cm] if cm else [None] * len(iou))
    acc = report.get("class_accuracy") or [None] * len(iou)
    table = Table()
    for col in ("class", "IoU", "accuracy", "pixels"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, i, a, s in zip(names, iou, acc, support, strict=True):
        table.add_row(name, _fmt(i), _fmt(a), _fmt(s))
    notes = []
    for k, name in enumerate(names):
        if iou[k] is None:
            msg = f"Note: class {name} is absent from the data (target and prediction): left out "
            notes.append(Text(msg + "of mIoU and mean accuracy.", style="dim"))
        elif support[k] == 0:
            n = sum(row[k] for row in cm) if cm else None
            where = "some pixels" if n is None else f"{n} pixel{'s' * (n != 1)}"
            msg = f"Note: class {name} never occurs in the target but is predicted on {where}: "
            notes.append(Text(msg + "its IoU of 0 lowers mIoU.", style="yellow"))
    return [_title(report), summary, Text("Per class", style="bold"), table, *notes]
