"""What a resumed run may change, and the check that its data is the data it trained on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcore.config import Config
from mlcore.errors import MlcoreError

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
