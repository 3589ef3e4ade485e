"""What a resumed run may change, and the check that its data is the data it trained on."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcore.config import Config
from mlcore.errors import MlcoreError
from mlcore.training.rundir import RunDir

if TYPE_CHECKING:  # build imports torch; the resume rules are checked before it loads
    from mlcore.training.build import Parts

# What a resumed run may change: how long and where it trains, not what it learns from.
# Anything else would make the checkpoint's weights, optimizer state or data split (and so
# the test set's independence) meaningless.
RESUMABLE_KEYS = (
    "trainer.epochs", "trainer.early_stopping.patience", "trainer.early_stopping.min_delta",
    "trainer.log_grad_norms", "trainer.device", "data.num_workers", "trainer.sample_every",
    "trainer.threads", "data.eval_batch_size",
)  # fmt: skip


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else key))
    return out


def check_resume_changes(run_path: Path, saved: Config, cfg: Config) -> None:
    before, after = _flat(saved.to_dict()), _flat(cfg.to_dict())
    changed = [k for k in after if after[k] != before.get(k)]
    fixed = [k for k in changed if k not in RESUMABLE_KEYS]
    if fixed:
        raise MlcoreError(
            f"--resume {run_path}: {', '.join(fixed)} cannot change in a resumed run (the "
            f"checkpoint was trained with {before[fixed[0]]!r}); start a new run instead. "
            f"A resume may change: {', '.join(RESUMABLE_KEYS)}"
        )
    if "trainer.epochs" in changed and cfg.scheduler.name in ("cosine", "onecycle"):
        raise MlcoreError(
            f"--resume {run_path}: trainer.epochs cannot change with scheduler "
            f"{cfg.scheduler.name!r}, whose learning rate is planned over the whole run; "
            "start a new run with more epochs"
        )


def check_matches_checkpoint(run: RunDir, trained: Any, cfg: Config) -> None:
    """config.yaml edited by hand since the run trained (a --set is check_resume_changes'):
    the config in last.pt decides. Keys it lacks (added to mlcore since) are not compared."""
    if not isinstance(trained, dict):
        return
    before, after = _flat(trained), _flat(cfg.to_dict())
    edited = [k for k in after if k in before and after[k] != before[k]]
    fixed = [k for k in edited if k not in RESUMABLE_KEYS]
    if fixed:
        raise MlcoreError(
            f"{run.config}: {', '.join(fixed)} differs from what {run.last.name} trained with "
            f"({before[fixed[0]]!r}; edited since?); restore it, or start a new run"
        )


def epochs_done_message(run_path: Path, cfg: Config) -> str:
    further = (
        "start a new run with more epochs (its learning-rate schedule is planned over "
        "the whole run)"
        if cfg.scheduler.name in ("cosine", "onecycle")
        else f"train further with --set trainer.epochs={cfg.trainer.epochs + 10}"
    )
    return f"--resume {run_path}: all {cfg.trainer.epochs} epochs are done; {further}"


def check_same_data(run_path: Path | str, state: dict[str, Any], parts: Parts) -> None:
    saved = state["data"].get("fingerprint")
    if saved is not None and saved != parts.data.info["fingerprint"]:
        raise MlcoreError(
            f"{run_path}: the data of {parts.config.data.name!r} differs from what this run "
            "trained on (its files changed since), so its splits cannot be rebuilt as they were"
        )


# What resume rewrites or appends to. Each is checked before the first of them is written:
# a refused resume leaves every file of the run as it was.
def check_writable(run: RunDir) -> None:
    """Every folder and file of the run (as root, os.access sees only a read-only mount)."""
    paths = [run.path, *sorted(run.path.rglob("*"))]
    stuck = next((p for p in paths if not os.access(p, os.W_OK)), None)
    if stuck is not None:
        raise MlcoreError(
            f"{stuck}: read-only; a resume writes into its run directory (checkpoints, "
            "metrics.csv, summary.json, plots): make it writable, or copy the run and resume "
            "the copy"
        )


def check_metrics(run: RunDir, completed: int) -> None:
    """metrics.csv holds one whole row for each of the `completed` epochs that last.pt holds
    (its row is written before the checkpoint); rows after them are dropped on resume."""
    if completed == 0 and not run.metrics.exists():
        return
    try:
        rows = run.read_metrics()
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise MlcoreError(f"{run.metrics}: unreadable ({err})") from None
    if rows and "epoch" not in rows[0]:
        raise MlcoreError(f"{run.metrics}: not a metrics file (its header has no epoch column)")
    seen: list[int] = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        epoch = str(row.get("epoch") or "")
        if not epoch.isdigit():
            raise MlcoreError(f"{run.metrics}: line {line} has no epoch number ({epoch!r})")
        if int(epoch) <= completed and (None in row or None in row.values()):
            raise MlcoreError(
                f"{run.metrics}: line {line} (epoch {epoch}) is cut short or has extra fields"
            )
        seen.append(int(epoch))
    missing = sorted(set(range(1, completed + 1)) - set(seen))
    if missing:
        rows_for = (
            f"no row for epoch {missing[0]}"
            if len(missing) == 1
            else f"no rows for epochs {_spans(missing)}"
        )
        raise MlcoreError(
            f"{run.metrics}: {rows_for} of the {completed} that {run.last.name} holds "
            "(truncated or edited); restore it, or start a new run"
        )


def _spans(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3, 5'."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][-1] + 1:
            spans[-1].append(n)
        else:
            spans.append([n])
    return ", ".join(f"{s[0]}-{s[-1]}" if len(s) > 1 else str(s[0]) for s in spans)
