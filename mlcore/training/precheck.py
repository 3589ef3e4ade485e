"""Mistakes found before the heavy imports, so that they answer at once.

Two stages, each run by the CLI (and the API) before data, models or plotting libraries
load: `check_train_request` / `check_eval_request` need no torch at all (paths, the run
directory, the resume rules its saved config decides, combinations wrong on every machine);
`check_placement` needs only `import torch` (is CUDA there, how many devices).
Every rule here is also enforced where it belongs (device.py, rundir.py, api.py): this
module only answers earlier, with the same message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlcore.config import Config, TrainerConfig, load_config
from mlcore.errors import MlcoreError
from mlcore.training.resume import check_resume_changes, check_writable, epochs_done_message
from mlcore.training.rundir import RunDir, check_new_run_dir

_NOT_CUDA = ("cpu", "mps")  # a device named explicitly that can never run CUDA-only modes


def check_train_request(
    config: str | Path | None,
    overrides: Any,
    run_dir: str | Path | None,
    resume: str | Path | None,
) -> tuple[Config, Path]:
    """No torch: the config (or the run to resume) and what it asks for. Returns the config
    that will train and the file to name in later errors."""
    if config is not None and resume is not None:
        raise MlcoreError("train: give either CONFIG or --resume RUN_DIR, not both")
    if resume is not None:
        cfg, source = _check_resume(Path(resume), overrides), Path(resume) / "config.yaml"
    elif config is None:
        raise MlcoreError("train: give a CONFIG file, or --resume RUN_DIR")
    else:
        cfg, source = load_config(config, overrides), Path(config)
        if run_dir is not None:
            check_new_run_dir(Path(run_dir))
    try:
        check_combinations(cfg.trainer)
    except MlcoreError as err:
        raise MlcoreError(f"{source}: {err}") from None
    return cfg, source


def check_run_dir(path: Path, flag: str = "") -> RunDir:
    """A directory written by `mlcore train`, not a folder of configs or of runs."""
    where = f"{flag} {path}" if flag else str(path)
    if not path.is_dir():
        raise MlcoreError(f"{where}: no such run directory")
    run = RunDir(path)
    missing = [p.name for p in (run.config, run.summary) if not p.is_file()]
    if missing:
        below = next(path.glob("*/**/summary.json"), None)  # the first found is enough
        hint = (
            f" (runs below it, e.g. {below.parent}: `mlcore runs {path}` lists them)"
            if below is not None
            else "; give a directory that `mlcore train` wrote, e.g. runs/<name>/<time>"
        )
        raise MlcoreError(f"{where}: not a run directory (no {' or '.join(missing)}){hint}")
    return run


def check_eval_request(path: Path, checkpoint: str) -> None:
    """No torch: `mlcore eval` on a run that has the checkpoint asked for."""
    run = check_run_dir(path)
    if not run.checkpoint(checkpoint).is_file():
        raise MlcoreError(
            f"{run.checkpoint(checkpoint)}: no such checkpoint (the run saved none: {_status(run)})"
        )


def _status(run: RunDir) -> str:
    try:
        summary = run.read_summary()
    except (OSError, MlcoreError):
        return "its summary.json is unreadable"
    return f"status {summary.get('status', '?')}, {summary.get('epochs_completed', 0)} epochs"


def _check_resume(run_path: Path, overrides: Any) -> Config:
    """The rules a resume's saved config and summary decide, without opening last.pt."""
    run = check_run_dir(run_path, "--resume")
    if not run.last.is_file():
        raise MlcoreError(f"{run.last}: no such checkpoint (nothing to resume: {_status(run)})")
    saved = load_config(run.config)
    cfg = load_config(run.config, overrides)
    check_resume_changes(run_path, saved, cfg)
    done = run.read_summary().get("epochs_completed") or 0  # resume rewrites it: it must read
    # summary.json is written after last.pt, so it never counts more epochs than last.pt holds
    if done >= cfg.trainer.epochs:
        raise MlcoreError(epochs_done_message(run_path, cfg))
    check_writable(run)
    return cfg


def check_combinations(t: TrainerConfig) -> None:
    """What no machine can run (device.py refuses the same later, with the same words)."""
    if t.precision == "amp" and t.device in _NOT_CUDA:
        raise MlcoreError(
            f"trainer.precision: amp (fp16 autocast + loss scaling) needs CUDA; on "
            f"{t.device} use fp32 or bf16"
        )
    if t.strategy == "dp" and t.device in _NOT_CUDA:
        raise MlcoreError("trainer.strategy: dp (DataParallel) needs CUDA devices; use single")
    if t.strategy == "single" and t.devices not in ("auto", 1):
        raise MlcoreError(
            f"trainer.devices: {t.devices} devices need trainer.strategy dp (one process) "
            "or ddp (one process per device); single uses one"
        )


def check_placement(t: TrainerConfig, source: str | Path) -> None:
    """Needs only `import torch`: the device and its count, as `place` decides them, for
    every strategy that runs in this one process. DDP (under torchrun or launched by
    mlcore) is left to `place`, which also starts its process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    one_process = t.strategy in ("single", "dp") or (
        t.strategy == "auto" and world == 1 and t.devices in ("auto", 1)
    )
    if not one_process:
        return
    from mlcore.training.device import place

    try:
        place(t)
    except MlcoreError as err:
        raise MlcoreError(f"{source}: {err}") from None
