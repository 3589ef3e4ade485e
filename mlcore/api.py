"""The Python API behind the commands: train a config, resume a run, evaluate a run.

Reads top-down: validate config -> build parts -> create run directory -> train -> test.
Nothing is written before the config and the parts it builds are known to be valid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import time
from pathlib import Path
from typing import Any

import torch

from mlcore.config import Config, dump, load_config
from mlcore.config.unused_keys import unused_keys
from mlcore.errors import MlcoreError, RunFailed
from mlcore.evaluation.outputs import write_eval_plots
from mlcore.plots.curves import plot_curves
from mlcore.training.build import Parts, build_parts
from mlcore.training.checkpoint import load_run_checkpoint
from mlcore.training.device import Placement, from_rank0, unwrap
from mlcore.training.gpu_memory import idle_gpus_hint
from mlcore.training.layer_labels import layer_labels
from mlcore.training.precheck import check_eval_request, check_placement, check_train_request
from mlcore.training.resume import (
    check_matches_checkpoint,
    check_metrics,
    check_resume_changes,
    check_same_data,
    epochs_done_message,
)
from mlcore.training.rundir import RunDir, command_line, create_run_dir
from mlcore.training.threads import (
    describe_threads,
    oversubscription_warning,
    run_environment,
    thread_change_warning,
)
from mlcore.training.trainer import Interrupted, Reporter, Trainer


class SilentReporter:
    """A Reporter that shows nothing (tests, library use)."""

    def epoch_start(self, epoch: int, epochs: int, batches: int, start: int) -> None: ...
    def step(self, batch: int, loss: float) -> None: ...
    def epoch_end(self, row: dict[str, Any], improved: bool) -> None: ...
    def warn(self, message: str) -> None: ...
    def info(self, message: str) -> None: ...


def train(
    config: str | Path | None,
    overrides: list[str] | tuple[str, ...] = (),
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    reporter: Reporter | None = None,
    runs_root: str | Path = "runs",
) -> tuple[RunDir, dict[str, Any]]:
    """Train (or resume) and return the run directory and its final summary."""
    reporter = reporter or SilentReporter()
    cfg, source = check_train_request(config, overrides, run_dir, resume)
    check_placement(cfg.trainer, source)
    if resume is not None:
        run, trainer, parts = _resume(Path(resume), overrides, reporter)
    else:
        parts = build_parts_from(cfg, source)
        run = shared_run_dir(
            parts.placement,
            lambda: create_run_dir(
                Path(runs_root), cfg.run.name, dump(cfg), Path(run_dir) if run_dir else None
            ),
        )
        trainer = Trainer(parts, run, reporter if parts.placement.is_main else SilentReporter())
    t0 = time.perf_counter()
    before = run.read_summary()
    previous = before.get("duration_s", 0.0)

    def elapsed() -> float:  # summed over every session of a resumed run
        return previous + time.perf_counter() - t0

    try:  # from here on the run directory exists: it never stays "created" or "running"
        if parts.placement.is_main:
            _start(parts, run, reporter, before, resumed=resume is not None)
        status = trainer.fit()
        test = None
        if len(parts.data.test):
            test = test_report(parts, run)
            if parts.placement.is_main:
                write_eval_plots(run.path, test, parts)
                _warn_below_baseline(test, reporter, run)
    except (Interrupted, KeyboardInterrupt):  # a second Ctrl-C: last.pt is the previous one
        _finish_ended(run, trainer, "interrupted", elapsed())
        raise Interrupted(run.path) from None
    except Exception as err:  # the run must never stay "running" after it has ended
        _finish_ended(run, trainer, "failed", elapsed(), error=f"{type(err).__name__}: {err}")
        if isinstance(err, OSError) and err.errno in _DISK_ERRORS:  # one line, not a traceback
            raise RunFailed(f"{err.filename or run.path}: {err.strerror}") from None
        raise
    except SystemExit:  # the console's reader went away (`| head`): Rich exits; resumable
        _finish_ended(run, trainer, "interrupted", elapsed())
        raise
    summary = _finish(run, trainer, status, elapsed(), test=test)
    return run, summary


def _start(parts: Parts, run: RunDir, reporter: Any, before: dict[str, Any], resumed: bool) -> None:
    """Record where and how this session trains (summary.json), and say it."""
    env = run_environment(parts.config.trainer.threads)
    if not resumed:
        parts.task.save(run.path)  # a GAN's judge, for eval and resume to reuse
    run.update_summary(
        status="running",
        device=str(parts.placement.device),
        strategy=parts.placement.strategy,
        world_size=parts.placement.world_size,
        data=parts.data.info,
        # the first session's environment stays; a resume's own goes beside it
        **(
            {"resumed_environment": [*before.get("resumed_environment", []), env]}
            if resumed
            else {"environment": env}
        ),
    )
    _announce(parts, run, reporter)
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))  # DDP ranks on this machine
    warnings = [
        thread_change_warning(before.get("environment"), env) if resumed else None,
        oversubscription_warning(parts.placement.device, local),
    ]
    for warning in filter(None, warnings):
        reporter.warn(warning)
        run.log_line(f"warning: {warning}")


def shared_run_dir(placement: Placement, create: Any) -> RunDir:
    """Rank 0 creates the run directory; under DDP the other ranks learn its path (they
    read checkpoints from it but never write)."""
    if placement.world_size == 1:
        return create()
    return RunDir(Path(from_rank0(str(create().path) if placement.is_main else None)))


def build_parts_from(
    cfg: Config,
    source: str | Path,
    stats: dict | None = None,
    cache: Path | None = None,
    preprocessing: dict | None = None,
    target_stats: dict | None = None,
) -> Parts:
    """build_parts, with the config file named in any mistake it finds (a model that does
    not fit the data, a monitor the task does not log, amp on a CPU...)."""
    try:
        return build_parts(
            cfg, stats=stats, cache=cache, preprocessing=preprocessing, target_stats=target_stats
        )
    except MlcoreError as err:
        raise MlcoreError(f"{source}: {err}") from None


def parts_from_checkpoint(cfg: Config, run: RunDir, state: dict[str, Any]) -> Parts:
    """The parts of a run rebuilt as its checkpoint saw them: the normalization, feature
    encoding and target statistics it saved, not fitted again."""
    saved = state["data"]
    if "target_stats" not in saved and cfg.data.standardize_target:
        # written before targets were standardized: its model predicts raw targets
        cfg = cfg.replace(data=dataclasses.replace(cfg.data, standardize_target=False))
    return build_parts_from(
        cfg,
        run.config,
        stats=saved["stats"],
        cache=run.path,
        preprocessing=saved.get("preprocessing"),  # absent before CSV encoding
        target_stats=saved.get("target_stats"),
    )


def _resume(run_path: Path, overrides: Any, reporter: Reporter) -> tuple[RunDir, Trainer, Parts]:
    """Every check first (precheck's, then those that need the checkpoint), then the
    writes: a refused resume leaves every file of the run as it was."""
    run = RunDir(run_path)
    if not run.config.is_file():
        raise MlcoreError(f"--resume {run_path}: not a run directory (no config.yaml)")
    state = load_run_checkpoint(run.last)
    saved = load_config(run.config)
    cfg = load_config(run.config, overrides)
    check_resume_changes(run_path, saved, cfg)
    check_matches_checkpoint(run, state.get("config"), cfg)
    parts = parts_from_checkpoint(cfg, run, state)
    check_same_data(run_path, state, parts)
    trainer = Trainer(parts, run, reporter if parts.placement.is_main else SilentReporter())
    try:
        trainer.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError, TypeError) as err:  # a foreign state
        raise MlcoreError(
            f"{run.last}: does not fit the model and optimizer of {run.config} "
            f"({type(err).__name__}: {err})"
        ) from None
    check_metrics(run, trainer.epoch - 1)
    if trainer.epoch > cfg.trainer.epochs:
        raise MlcoreError(epochs_done_message(run_path, cfg))
    if trainer.stopper.should_stop:
        es = cfg.trainer.early_stopping
        raise MlcoreError(
            f"--resume {run_path}: the run stopped early ({es.monitor} did not improve for "
            f"{trainer.stopper.bad_epochs} epochs); to train on, raise "
            f"trainer.early_stopping.patience above {es.patience} or set it to null"
        )
    if parts.placement.is_main:
        run.truncate_metrics(trainer.epoch - 1)
        run.config.write_text(dump(parts.config))  # e.g. a raised trainer.epochs
        resumes = run.read_summary().get("resumed_with", [])
        run.update_summary(resumed_with=[*resumes, command_line()])
    return run, trainer, parts


def _announce(parts: Parts, run: RunDir, reporter: Any) -> None:
    info = getattr(reporter, "info", None)
    if info is None:
        return
    info(f"run directory: {run.path}")
    threads = describe_threads(parts.config.trainer.threads)
    info(f"device: {parts.placement.device} ({parts.placement.strategy}), {threads}")
    data = describe_data(parts.data.info)
    info(data)
    run.log_line(data)  # what the encoding did to a CSV is worth keeping beside the epochs
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    hint = idle_gpus_hint(parts.config.trainer.strategy, parts.placement, visible)
    if hint:
        info(f"hint: {hint}")
    for line in unused_keys(parts.config, parts.task.name):
        reporter.warn(line)
        run.log_line(f"warning: {line}")


def describe_data(info: dict[str, Any]) -> str:
    """What training starts from: split sizes, class balance, normalization, contamination."""
    sizes = info.get("sizes") or {}
    lines = [
        "data: " + info.get("name", "?") + ", " + ", ".join(f"{k} {v}" for k, v in sizes.items())
    ]
    counts = info.get("class_counts")
    if counts and len(next(iter(counts.values()))) <= 12:
        per_split = "; ".join(f"{k} {'/'.join(map(str, v))}" for k, v in counts.items())
        lines.append(f"  samples per class: {per_split}")
    norm = info.get("normalization")
    if norm:
        mean, std = norm["mean"], norm["std"]
        if len(mean) <= 4:
            values = f"mean {_short(mean)}, std {_short(std)}"
        else:
            values = f"{len(mean)} means and stds"
        lines.append(f"  normalization fitted on {norm.get('fitted_on', 'train')}: {values}")
    lines += [f"  {note}" for note in (info.get("preprocessing") or {}).get("notes", [])]
    target = info.get("target_normalization")
    if target and target.get("standardized"):
        lines.append(
            f"  target standardized with {target['fitted_on']}'s mean {_short(target['mean'])}, "
            f"std {_short(target['std'])}: the loss is in standardized units, the metrics in "
            "the target's"
        )
    guard = info.get("contamination") or {}
    if guard.get("val_in_train") or guard.get("test_in_train"):
        verb = "dropped" if guard.get("dropped") else "kept (set data.dedupe=true to drop them)"
        lines.append(
            f"warning: {guard['val_in_train']} validation and {guard['test_in_train']} test "
            f"samples also occur in the training split (exact copies); {verb}"
        )
    return "\n".join(lines)


def _short(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"


def test_report(parts: Parts, run: RunDir) -> dict[str, Any]:
    """Evaluate best.pt on the test split (the weights are loaded into the parts' model)."""
    distributed = parts.placement.strategy == "ddp"
    if distributed:
        torch.distributed.barrier()  # rank 0 has written best.pt
    state = load_run_checkpoint(run.best)
    unwrap(parts.model).load_state_dict(state["model"])
    report, _ = parts.task.evaluate(
        parts.model,
        parts.loaders["test"],
        parts.placement.device,
        distributed=distributed,
        model_stats=True,
    )
    return {"split": "test", "checkpoint": "best", "epoch": state["epoch"] - 1, **report}


def _warn_below_baseline(test: dict[str, Any], reporter: Reporter, run: RunDir) -> None:
    """A regression that predicts worse than the training mean has learned nothing usable:
    say so at the end, where its R² is read (it used to end with r2 -23.9 and no word)."""
    base = test.get("baseline") if test.get("task") == "regression" else None
    if base and test["r2"] < base["r2"]:
        line = (
            f"test r2 {test['r2']:.4g} is below the baseline of predicting the training mean "
            f"(r2 {base['r2']:.4g}, mse {base['mse']:.4g}): the model predicts worse than a "
            "constant; try more epochs or another optimizer.lr"
        )
        reporter.warn(line)
        run.log_line(f"warning: {line}")


# A run directory's disk failing under a run: removed, read-only, full. Not EPIPE (a closed
# console, handled by the CLI) nor a connection's errors (a DDP peer lost: the traceback stays).
_DISK_ERRORS = {errno.ENOENT, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EIO}


def _finish_ended(
    run: RunDir, trainer: Trainer, status: str, duration: float, **extra: Any
) -> None:
    """_finish for a run already ending on an error or an interrupt: the disk that failed
    it (full, removed) fails these writes too, and what ended the run is the one thing to
    tell, in one line, not an OSError from here in its place."""
    with contextlib.suppress(OSError):
        _finish(run, trainer, status, duration, **extra)


def _finish(
    run: RunDir, trainer: Trainer, status: str, duration: float, **extra: Any
) -> dict[str, Any]:
    if not trainer.p.placement.is_main:
        return {}
    rows = run.read_metrics()
    # The curves are drawn from metrics.csv; on a full disk the status below matters more.
    with contextlib.suppress(OSError):
        plot_curves(
            rows,
            run.plots,
            title=trainer.p.config.run.name,
            layer_names=layer_labels(trainer.p.model),
            best=trainer.best_summary(),
        )
    fields = {
        "status": status,
        "epochs_completed": trainer.epoch - 1,
        "best": trainer.best_summary(),
        "duration_s": round(duration, 3),
        **extra,
    }
    fields.update(_line_fit(trainer.p))
    if trainer.gpu_memory is not None:
        fields["gpu_memory"] = trainer.gpu_memory.summary()
    return run.update_summary(**fields)


def _line_fit(parts: Parts) -> dict[str, Any]:
    """For the `line` dataset: the learned W and b beside the true ones, in raw units.

    The features were standardized, x' = (x - mean) / std, so Wx' + b = (W/std) x +
    (b - W mean/std): that is the fit to compare with the true w and b. A standardized
    target, y' = (y - m) / s, first takes W to sW and b to sb + m.
    """
    info = parts.data.info  # the line dataset records its true w and b here
    if parts.config.data.name != "line" or parts.config.model.name != "linear":
        return {}
    layer = unwrap(parts.model).fc
    w = layer.weight.detach().double().cpu()[0]
    b = float(layer.bias.detach().double().cpu()[0]) if layer.bias is not None else 0.0
    if parts.task.standardized:
        target = parts.data.target_stats
        w, b = w * target["std"][0], b * target["std"][0] + target["mean"][0]
    stats = parts.data.stats
    if stats:
        mean = torch.tensor(stats["mean"], dtype=torch.float64).flatten()
        std = torch.tensor(stats["std"], dtype=torch.float64).flatten()
        b = b - float((w * mean / std).sum())
        w = w / std
    return {
        "fit": {
            "learned_w": w.tolist(),
            "learned_b": b,
            "true_w": info.get("true_w"),
            "true_b": info.get("true_b"),
        }
    }


def evaluate_run(
    run_path: str | Path, split: str = "test", checkpoint: str = "best"
) -> tuple[dict[str, Any], Parts]:
    """Rebuild the run's data split exactly (same seed, saved normalization) and evaluate."""
    check_eval_request(Path(run_path), checkpoint)
    run = RunDir(Path(run_path))
    state = load_run_checkpoint(run.checkpoint(checkpoint))
    cfg = load_config(run.config)
    if cfg.model.name == "gan" and split != "test":  # eval_<split>.json would say it was read
        raise MlcoreError(
            f"--split {split}: a GAN is judged on samples it generates, not on a data split; "
            "leave --split out"
        )
    cfg = cfg.replace(trainer=_cpu_if_needed(cfg))
    parts = parts_from_checkpoint(cfg, run, state)
    check_same_data(run_path, state, parts)
    unwrap(parts.model).load_state_dict(state["model"])
    if len(getattr(parts.data, split)) == 0:
        raise MlcoreError(f"--split {split}: this run's {split} split is empty")
    report, _ = parts.task.evaluate(
        parts.model, parts.loaders[split], parts.placement.device, model_stats=True
    )
    report = {"split": split, "checkpoint": checkpoint, "epoch": state["epoch"] - 1, **report}
    return report, parts


def _cpu_if_needed(cfg: Config):
    """Evaluate where this machine can: a run trained on CUDA evaluates on CPU without one."""
    import dataclasses

    t = cfg.trainer
    device = t.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        device = "cpu"
    precision = "fp32" if device == "cpu" and t.precision == "amp" else t.precision
    # one process on one device, whatever the run trained with (dp or ddp over several)
    return dataclasses.replace(t, device=device, strategy="single", devices=1, precision=precision)
