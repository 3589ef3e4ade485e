"""CPU threads and the environment a run's numbers came from.

Why it matters: an intra-op thread count splits reductions (matmul, convolution, sums)
differently, so two CPU runs of one config give identical metrics only at the same count
(the digits CNN: best val accuracy 0.996296 at epoch 21 with 1 thread, 0.992593 at epoch 4
with 2). `trainer.threads` fixes the count; summary.json records it with what else decides
the numbers (torch, CUDA and cuDNN versions, Python, the platform).
"""

from __future__ import annotations

import contextlib
import os
import platform
from typing import Any

import torch


def apply_threads(threads: int | str) -> None:
    """`trainer.threads`: auto leaves PyTorch's choice; N sets N intra-op threads and as many
    inter-op ones (those run independent operators side by side; more than the intra-op
    count would only oversubscribe the same cores)."""
    if threads == "auto":
        return
    torch.set_num_threads(int(threads))
    if torch.get_num_interop_threads() != threads:
        # settable once per process, before any inter-op work; later calls keep the pool
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(int(threads))


def threads_origin(setting: int | str) -> str:
    """Where the intra-op count came from, for the start-up line."""
    if setting != "auto":
        return "trainer.threads"
    omp = os.environ.get("OMP_NUM_THREADS")
    return f"OMP_NUM_THREADS={omp}" if omp else "PyTorch's default"


def run_environment(setting: int | str) -> dict[str, Any]:
    """What summary.json records as `environment`: what else must match to repeat a run
    bit for bit."""
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "threads_setting": setting,
        "threads_origin": threads_origin(setting),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": cudnn,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def describe_threads(setting: int | str) -> str:
    """`threads: 2 (PyTorch's default)`, for the start-up lines."""
    return f"threads: {torch.get_num_threads()} ({threads_origin(setting)})"


def thread_change_warning(before: dict[str, Any] | None, now: dict[str, Any]) -> str | None:
    """One line when a resumed run uses another thread count than its first session did."""
    if not before or before.get("threads") in (None, now["threads"]):
        return None
    return (
        f"this run trained with {before['threads']} thread(s), this session uses "
        f"{now['threads']}: the result will not be bit-identical to an uninterrupted run "
        f"(--set trainer.threads={before['threads']} matches it)"
    )


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def oversubscription_warning(device: torch.device, processes: int) -> str | None:
    """One line when the CPU threads of this machine's training processes outnumber its
    cores: they take turns on the cores and each runs slower (on a 2-core machine, 2
    threads per process under other load were 5-10x slower than 1)."""
    if device.type != "cpu":
        return None
    threads, cores = torch.get_num_threads(), usable_cores()
    if threads * processes <= cores:
        return None
    who = f"{processes} processes x {threads} threads" if processes > 1 else f"{threads} threads"
    if processes > cores:
        fix = f"start at most {cores} processes (trainer.devices) of 1 thread"
    else:
        fix = f"use at most {cores // processes} thread(s) per process (trainer.threads)"
    return f"{who} on {cores} core(s): they compete for the cores and each runs slower; {fix}"
