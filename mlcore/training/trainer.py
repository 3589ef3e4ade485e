"""The training loop: epochs of `train_step`, validation, checkpoints, early stopping,
interruption and exact resume. Everything it trains was built before it (build.py)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Protocol

from mlcore.errors import RunFailed
from mlcore.evaluation.model_stats import model_stat_columns, stat_columns
from mlcore.evaluation.tasks import VAL_METRICS
from mlcore.interrupts import stop_signals_handled
from mlcore.training.build import Parts
from mlcore.training.checkpoint import rng_state, set_rng_state
from mlcore.training.checkpoint_process import Checkpointer, WriteFailed, core_to_spare
from mlcore.training.checkpoint_writer import CheckpointWriter
from mlcore.training.device import from_rank0, unwrap
from mlcore.training.gpu_memory import PeakMemory, describe_peaks, devices_used
from mlcore.training.grad_health import GradHealth
from mlcore.training.monitor import Monitor
from mlcore.training.rundir import RunDir
from mlcore.training.step import NonFiniteLoss

SUMMARY_EVERY_S = 2.0  # seconds between summary.json progress updates while training


class Reporter(Protocol):
    """What the trainer tells the user about; the CLI decides how it looks."""

    def epoch_start(self, epoch: int, epochs: int, batches: int, start: int) -> None: ...
    def step(self, batch: int, loss: float) -> None: ...
    def epoch_end(self, row: dict[str, Any], improved: bool) -> None: ...
    def warn(self, message: str) -> None: ...


def format_row(row: dict[str, Any], epochs: int) -> str:
    """The one-line epoch summary, for the console and train.log alike."""
    parts = [f"epoch {row['epoch']}/{epochs}"]
    shown = [k for k in row if k.startswith("val/") and k != "val/loss"][:2]
    losses = [k for k in row if k.startswith("train/")]
    train = ["train/loss"] if "train/loss" in row else losses[:2]  # a GAN: D and G losses
    for key in (*train, "val/loss", *shown):
        if key in row:
            parts.append(f"{key} {row[key]:.4g}")
    parts.append(f"lr {row['lr']:.3g}")
    parts.append(f"{row['seconds']:.1f}s")
    return "  ".join(parts)


class Interrupted(Exception):  # noqa: N818 - a state, not an error
    """SIGINT/SIGTERM arrived; a resumable checkpoint has been saved."""


class Trainer:
    def __init__(self, parts: Parts, run: RunDir | None, reporter: Reporter):
        self.p, self.run, self.reporter = parts, run, reporter
        cfg = parts.config.trainer
        self.step = parts.step  # built with the other parts; it owns what differs (GAN)
        self.health = GradHealth(unwrap(parts.model)) if cfg.log_grad_norms else None
        # the model measures only where the model has a split to measure them on (not a GAN)
        self.model_stats = cfg.log_model_stats and parts.task.name != "generation"
        self.best = Monitor(cfg.checkpoint.monitor, cfg.checkpoint.mode)
        es = cfg.early_stopping
        self.stopper = Monitor(es.monitor, es.mode, es.patience, es.min_delta)
        self.epoch, self.batch, self.global_step = 1, 0, 0  # position of the next step
        self.sums = dict.fromkeys(self.step.columns, 0.0)  # sums of the epoch in progress
        self.seconds = 0.0  # training time of the epoch in progress
        self._stop_requested = False
        self._summary_due = 0.0  # monotonic time after which the next progress is written
        self.writer = CheckpointWriter()  # checkpoints are written while the next epoch trains
        self.checkpointer = Checkpointer()  # ...serialized by a child process where one pays
        devices = devices_used(parts.placement)
        self.gpu_memory = PeakMemory(devices) if devices else None
        val = [f"val/{m}" for m in VAL_METRICS[parts.task.name]]
        grads = self.health.columns if self.health else []
        losses = [f"train/{name}" for name in self.step.columns]
        val_loss = ["val/loss"] if parts.task.has_val_loss else []
        stats = model_stat_columns(parts.model) if self.model_stats else []
        self.columns = ["epoch", "step", *losses, *val_loss, *val, "lr", "seconds", *stats, *grads]
        self.config_tree = parts.config.to_dict()  # frozen: converted once, not every epoch

    # -- checkpoint state ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": unwrap(self.p.model).state_dict(),
            "optimizer": self.p.optimizer.state_dict(),
            "scheduler": self.p.schedule.state_dict(),
            "scaler": self.step.scaler.state_dict() if self.step.scaler else {},
            "step_state": self.step.state_dict(),  # a GAN's second optimizer, its counters
            "epoch": self.epoch,
            "batch": self.batch,
            "step": self.global_step,
            "epoch_sums": dict(self.sums),
            "epoch_seconds": self.seconds,
            "grad_health": self.health.state_dict() if self.health else {},
            "best": self.best.state_dict(),
            "early_stopping": self.stopper.state_dict(),
            "rng": rng_state(),
            "config": self.config_tree,  # serialized at once (_save): shared, never changed
            "data": {
                "stats": self.p.data.stats,
                "preprocessing": self.p.data.preprocessing,
                "target_stats": self.p.data.target_stats,
                "input_shape": list(self.p.data.input_shape),
                "num_classes": self.p.data.num_classes,
                "class_names": self.p.data.class_names,
                "fingerprint": self.p.data.info["fingerprint"],
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        unwrap(self.p.model).load_state_dict(state["model"])
        self.p.optimizer.load_state_dict(state["optimizer"])
        self.p.schedule.load_state_dict(state["scheduler"])
        if self.step.scaler and state["scaler"]:
            self.step.scaler.load_state_dict(state["scaler"])
        if state.get("step_state"):  # absent from checkpoints older than steps as parts
            self.step.load_state_dict(state["step_state"])
        self.epoch, self.batch, self.global_step = state["epoch"], state["batch"], state["step"]
        self.sums, self.seconds = dict(state["epoch_sums"]), state["epoch_seconds"]
        if self.health is not None and state["grad_health"]:
            self.health.load_state_dict(state["grad_health"])
        self.best.load_state_dict(state["best"])
        self.stopper.load_state_dict(state["early_stopping"])
        set_rng_state(state["rng"])

    def _save(self, *which: str, summary: dict[str, Any] | None = None) -> None:
        """One state (weights, optimizer, RNG...) gathered once, written to each file in the
        background; then `summary` into summary.json, so that it never names an epoch that
        last.pt does not hold yet. fit() waits for the write before it returns or raises."""
        if self.run is None or not self.p.placement.is_main:
            return
        self.writer.wait()  # first: the previous write's buffer or bytes are free again
        write_files = self.checkpointer.prepare(self.state_dict())  # now: steps change them
        paths = [self.run.checkpoint(name) for name in which]
        run = self.run

        def write() -> None:
            try:
                write_files(paths)
            except WriteFailed as err:  # a full disk, a removed directory: the run fails
                path, reason = err.args
                raise RunFailed(f"{path}: cannot write the checkpoint ({reason})") from None
            if summary is not None:
                run.update_summary(**summary)

        self.writer.submit(write)

    # -- the loop -------------------------------------------------------------------------
    def fit(self) -> str:
        """Train to the end; return the final status (completed or early_stopped). However
        it ends (returns, stops, fails), the last checkpoint submitted is on disk by then, or
        the error of its write is raised."""
        try:
            return self._fit()
        finally:
            try:
                self.writer.close()
            finally:
                self.checkpointer.close()

    def _fit(self) -> str:
        epochs = self.p.config.trainer.epochs
        if self.run is not None and self.p.placement.is_main and core_to_spare():
            self.checkpointer.start()  # before the first batch allocates anything
        with self._catch_signals():
            while self.epoch <= epochs:
                if self.gpu_memory is not None:
                    self.gpu_memory.epoch_start()
                self._train_epoch()
                self._end_epoch()
                if self._stop_now():
                    raise Interrupted
                if self.stopper.should_stop:
                    self._warn(
                        f"early stopping: {self.stopper.key} has not improved for "
                        f"{self.stopper.bad_epochs} epochs (best {self.stopper.best:.6g} at "
                        f"epoch {self.stopper.best_epoch})"
                    )
                    return "early_stopped"
        return "completed"

    def _train_epoch(self) -> None:
        loader = self.p.loaders["train"]
        if any(split.forks_workers for split in self.p.loaders.values()):
            # a child forked while another thread holds a lock can hang on it: no writer
            # thread while this epoch (training, then validation) starts worker processes
            self.writer.close()
        model = self.p.model
        model.train()
        self.reporter.epoch_start(self.epoch, self.p.config.trainer.epochs, len(loader), self.batch)
        last = len(loader) - 1
        step, sums, schedule, reporter = self.step, self.sums, self.p.schedule, self.reporter
        shown = step.columns[0]  # the value on the progress bar
        distributed = self.p.placement.strategy == "ddp"
        t0 = time.perf_counter()
        # The hot loop: locals instead of attribute chains, nothing per step that a plain
        # PyTorch loop would not need beyond the loss bookkeeping (benchmarks/trainer_overhead).
        for i, (x, y) in enumerate(loader.epoch(self.epoch, start=self.batch), start=self.batch):
            if i == last and self.health is not None:
                self.health.watch_activations()  # measured on the epoch's last step
                step.inspect = self.health.record_grads
            try:
                losses = step(x, y)
            except NonFiniteLoss as err:
                self._fail_non_finite(i, err)
            step.inspect = None
            schedule.after_batch()
            for key, value in losses.items():
                sums[key] += value
            self.batch, self.global_step = i + 1, self.global_step + 1
            reporter.step(i + 1, losses[shown])
            if step.stop_agreed if distributed else self._stop_requested:
                self.seconds += time.perf_counter() - t0
                self._save("last")
                raise Interrupted
        self.seconds += time.perf_counter() - t0

    def _stop_now(self) -> bool:
        """Under DDP every rank must stop after the same step, or the others would wait
        forever in the next gradient all-reduce: the step learns whether any rank asked, in
        DDP's own all-reduce (device.RankFlags); a request that comes after an epoch's last
        step rides on the next epoch's first."""
        if self.p.placement.strategy == "ddp":
            return self.step.stop_agreed
        return self._stop_requested

    def _end_epoch(self) -> None:
        n = max(self.batch, 1)
        report, val_loss = self.p.task.evaluate(
            self.p.model,
            self.p.loaders["val"],
            self.p.placement.device,
            distributed=self.p.placement.strategy == "ddp",
            model_stats=self.model_stats,
            headline=True,  # what val_metrics reads, not the full report
        )
        row: dict[str, Any] = {"epoch": self.epoch, "step": self.global_step}
        train = {f"train/{k}": v / n for k, v in self.sums.items() if f"train/{k}" in self.columns}
        row.update(from_rank0(train) if self.p.placement.strategy == "ddp" else train)
        if "val/loss" in self.columns:
            row["val/loss"] = val_loss
        row.update({f"val/{k}": v for k, v in self.p.task.val_metrics(report).items()})
        row["lr"] = self.p.optimizer.param_groups[0]["lr"]
        row["seconds"] = round(self.seconds, 3)
        if self.model_stats:
            row.update(stat_columns(report["model"]))
        if self.health is not None:
            row.update(self.health.norms)
        improved = self.best.update(row[self.best.key], self.epoch)
        self.stopper.update(row[self.stopper.key], self.epoch)
        self.p.schedule.after_epoch(row[self.best.key])
        if self.run is not None and self.p.placement.is_main:
            self.run.append_metrics(row, self.columns)
            last = self.epoch == self.p.config.trainer.epochs
            self.p.task.epoch_end(self.p.model, self.epoch, last, self.run.plots)
        # train.log before the checkpoint is handed to the writer: appended while the
        # writer's fsync is in flight, the line waited for the filesystem journal.
        self._report_epoch(row, improved)
        completed = self.epoch
        self.epoch, self.batch, self.sums, self.seconds = (
            self.epoch + 1,
            0,
            dict.fromkeys(self.step.columns, 0.0),
            0.0,
        )
        # last.pt after the metrics row: a kill in between is mended on resume, which keeps
        # only the rows of the epochs the checkpoint holds.
        self._save(
            *(("last", "best") if improved else ("last",)), summary=self._progress(completed)
        )

    def _progress(self, completed: int) -> dict[str, Any] | None:
        """summary.json's progress while running, at most every SUMMARY_EVERY_S: rewriting
        it (atomically, fsynced) after each of many short epochs cost more than the epochs'
        own bookkeeping. It may lag last.pt, never lead it; the end of the run (however it
        ends) writes the final figures."""
        now = time.monotonic()
        if now < self._summary_due:
            return None
        self._summary_due = now + SUMMARY_EVERY_S
        return {"status": "running", "epochs_completed": completed, "best": self.best_summary()}

    def _report_epoch(self, row: dict[str, Any], improved: bool) -> None:
        """The epoch line to the reporter and train.log, then the epoch's warnings."""
        line = format_row(row, self.p.config.trainer.epochs) + ("  *best" if improved else "")
        self.reporter.epoch_end(row, improved)
        self._log(line)
        if self.gpu_memory is not None:
            memory = describe_peaks(self.gpu_memory.epoch_end())
            self._log(memory)
            if self.p.placement.strategy == "dp":  # the uneven split is worth seeing each epoch
                getattr(self.reporter, "info", self.reporter.warn)(memory)
        for message in self.health.warnings() if self.health else []:
            self._warn(f"epoch {self.epoch}: {message}")

    def _log(self, line: str) -> None:
        if self.run is not None and self.p.placement.is_main:
            self.run.log_line(line)

    def _warn(self, message: str) -> None:
        self.reporter.warn(message)
        self._log(f"warning: {message}")

    def best_summary(self) -> dict[str, Any]:
        return {"epoch": self.best.best_epoch, "monitor": self.best.key, "value": self.best.best}

    def _fail_non_finite(self, batch: int, err: NonFiniteLoss) -> None:
        raise RunFailed(
            f"the loss became {err.args[0]} at epoch {self.epoch}, step {self.global_step + 1} "
            f"(batch {batch + 1}); lower optimizer.lr or set regularization.grad_clip "
            f"(e.g. --set regularization.grad_clip=1.0). {self._checkpoints_kept()}"
        ) from None

    def _checkpoints_kept(self) -> str:
        """What a failed run leaves to evaluate or resume, as it is on disk once the
        checkpoint write in flight has finished."""
        self.writer.wait()
        kept = [p.name for p in (self.run.best, self.run.last) if p.is_file()] if self.run else []
        if not kept:
            return "No checkpoint was saved before it."
        return f"{' and '.join(kept)} keep the weights saved before it."

    @contextmanager
    def _catch_signals(self):
        """SIGINT/SIGTERM: finish the current step, save, and leave as `interrupted`."""

        def request_stop(signum: int, _frame: Any) -> None:
            # Under DDP the launcher (mlcore's or torchrun) starts ranks in sessions of their
            # own and forwards the terminal's Ctrl-C once to each: one signal, one request.
            if self._stop_requested:  # a second Ctrl-C: stop now
                raise KeyboardInterrupt
            self._stop_requested = True
            self.step.stop_requested = True  # under DDP, told to every rank with the grads
            self._warn("stopping after this step; a resumable checkpoint is saved")

        with stop_signals_handled(request_stop):
            yield
