"""`strategy: ddp` without torchrun: mlcore starts the processes itself, through PyTorch's
elastic launcher (the machinery behind `torchrun --standalone`), on this machine only.

The parent trains nothing: it picks the run directory, starts K ranks that run
`python -m mlcore train CONFIG --run-dir DIR` (or `train --resume DIR`), each an ordinary
DDP rank as under torchrun, waits, and returns the job's exit status. A rank that fails
ends the job (the launcher stops the others), and its own error, which the rank recorded
for the launcher, goes into the run's summary.json. Several machines: torchrun
(see docs/devices.md).
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from mlcore.config import Config
from mlcore.errors import MlcoreError

INTERRUPTED = 130  # what a rank exits with when the job was stopped and can resume


@dataclass(frozen=True)
class Job:
    processes: int
    backend: str  # nccl | gloo
    run_dir: Path


def local_processes(cfg: Config) -> tuple[int, str]:
    """How many ranks to start on this machine, and their backend; what no rank could run
    is refused here, once, before any starts."""
    import torch

    from mlcore.training.device import check_precision
    from mlcore.training.gan_parts import check_gan

    check_gan(cfg)

    devices, device = cfg.trainer.devices, cfg.trainer.device
    gpus = torch.cuda.device_count() if device.startswith("cuda") or device == "auto" else 0
    if device.startswith("cuda") and gpus == 0:
        raise MlcoreError(
            f"trainer.device: {device!r} asked for, but no CUDA device is available here; "
            "use cpu or auto"
        )
    check_precision(cfg.trainer.precision, torch.device("cuda" if gpus else "cpu"))
    if devices == "auto":
        if gpus == 0:
            raise MlcoreError(
                "trainer.devices: auto starts one process per visible GPU, and none is "
                "visible here; give a number for CPU processes, e.g. --set trainer.devices=2"
            )
        return gpus, "nccl"
    if gpus and devices > gpus:
        raise MlcoreError(
            f"trainer.devices: {devices}, but only {gpus} GPU(s) are visible; use at most "
            f"{gpus}, or trainer.device: cpu for CPU processes"
        )
    return int(devices), "nccl" if gpus else "gloo"


def launch(job: Job, rank_args: list[str]) -> int:
    """Run `python -m mlcore <rank_args>` (which write to job.run_dir) as `job.processes`
    ranks; return the job's exit status (0, 130 when interrupted, else the failing rank's)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=job.processes,
        run_id=f"mlcore-{uuid.uuid4().hex[:8]}",
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",  # a free port, as torchrun --standalone
        max_restarts=0,  # a failed rank ends the job; `--resume` restarts it on purpose
        monitor_interval=0.2,
    )
    # One thread per rank unless the user chose (torchrun's default, and ours: K ranks on
    # few cores would otherwise oversubscribe them).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["MLCORE_LAUNCHED"] = "1"  # ranks record their errors for this parent
    # The launcher logs each step of a failure or a Ctrl-C as warnings, each module's logger
    # at its own level; mlcore says what happened once, below (or the ranks do).
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        elastic_launch(config, sys.executable)("-m", "mlcore", *rank_args)
    except ChildFailedError as err:
        return _failed(job, err)
    except SignalException:  # Ctrl-C here: the launcher forwarded it to every rank, which
        return INTERRUPTED  # stopped after the same step and saved (or were stopped)
    return 0


def _failed(job: Job, err: object) -> int:
    """The exit status of a failed job; records the failing rank's error in the run."""
    failures = err.failures  # type: ignore[attr-defined]
    codes = {f.exitcode for f in failures.values()}
    if codes <= {INTERRUPTED}:  # every rank stopped on a signal and saved: resumable
        return INTERRUPTED
    rank, first = err.get_first_failure()  # type: ignore[attr-defined]
    own = _own_message(first)  # the rank printed it already: say it once
    message = own or (
        f"killed by signal {-first.exitcode}"
        if first.exitcode < 0
        else f"exit status {first.exitcode}"
    )
    _record(job.run_dir, f"rank {rank}: {message}")
    shown = own and _printed(first)  # the rank printed it (mlcore.cli.exits.speaks) or not
    # A user error (exit 2) is every rank's alike, and rank 0 said it in one line; whichever
    # rank the launcher saw fail first, there is nothing to add.
    if first.exitcode == 2 and any(f.exitcode == 2 and _printed(f) for f in failures.values()):
        return 2
    print(
        f"ddp: rank {rank} failed{' (above)' if shown else ': ' + message}; the job stopped",
        file=sys.stderr,
    )
    return first.exitcode if first.exitcode > 0 else 1


def _printed(failure: object) -> bool:
    data = getattr(failure, "error_file_data", None) or {}
    message = data.get("message") if isinstance(data, dict) else None
    info = message.get("extraInfo", {}) if isinstance(message, dict) else {}
    return info.get("printed") == "yes"


def _own_message(failure: object) -> str:
    """The one line the rank recorded for the launcher (mlcore.cli.exits), or ""."""
    message = getattr(failure, "message", "") or ""
    if isinstance(message, dict):
        message = message.get("message", "")
    if "To enable traceback" in message or message.startswith("Signal "):
        return ""  # the launcher's own words for "no record"
    return message.strip()


def _record(run_dir: Path, error: str) -> None:
    """Rank 0 marks the run failed with what it saw (often only "a peer closed the
    connection"); the launcher knows which rank failed first and why."""
    from mlcore.training.rundir import RunDir

    run = RunDir(run_dir)
    if run.summary.is_file():
        run.update_summary(status="failed", error=error)
