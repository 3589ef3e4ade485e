"""GPU memory as training used it: the peak per device in each epoch, and a hint when GPUs
sit idle.

DataParallel is where this matters: it scatters each batch over the GPUs but gathers every
output, and computes the loss, on the first one, so the first GPU peaks higher than the
others (the seed note's "uneven GPU memory"). DDP runs one process per GPU and keeps them
even.
"""

from __future__ import annotations

from typing import Any

import torch

from mlcore.training.device import Placement

GIB = 1024**3


def devices_used(placement: Placement) -> list[int]:
    """The CUDA device indices this process drives (none on CPU/MPS)."""
    if placement.device.type != "cuda":
        return []
    if placement.strategy == "dp":
        return list(range(placement.devices))
    return [placement.device.index if placement.device.index is not None else 0]


class PeakMemory:
    """Per-device peak of allocated memory, epoch by epoch, from PyTorch's allocator
    counters (`torch.cuda.max_memory_allocated`, the figure `mlcore gpu-mem` estimates)."""

    def __init__(self, devices: list[int], cuda: Any = torch.cuda):
        self.devices, self.cuda = devices, cuda
        self.run_peak = dict.fromkeys(devices, 0)

    def epoch_start(self) -> None:
        for d in self.devices:
            self.cuda.reset_peak_memory_stats(d)

    def epoch_end(self) -> dict[int, int]:
        peaks = {d: int(self.cuda.max_memory_allocated(d)) for d in self.devices}
        for d, value in peaks.items():
            self.run_peak[d] = max(self.run_peak[d], value)
        return peaks

    def summary(self) -> list[dict[str, Any]]:
        """For summary.json: the run's peak on each device."""
        return [
            {"device": f"cuda:{d}", "peak_allocated_bytes": b} for d, b in self.run_peak.items()
        ]


def describe_peaks(peaks: dict[int, int]) -> str:
    """'peak GPU memory: cuda:0 3.10 GiB, cuda:1 2.05 GiB (cuda:0 holds 51% more)'."""
    parts = ", ".join(f"cuda:{d} {b / GIB:.2f} GiB" for d, b in peaks.items())
    line = f"peak GPU memory: {parts}"
    if len(peaks) > 1:
        first, rest = peaks[min(peaks)], [b for d, b in peaks.items() if d != min(peaks)]
        if max(rest) > 0 and first > max(rest):
            line += f" (cuda:{min(peaks)} holds {first / max(rest) - 1:.0%} more: outputs and loss)"
    return line


def idle_gpus_hint(strategy_setting: str, placement: Placement, visible: int) -> str | None:
    """One hint when several GPUs are visible and `strategy: auto` uses one of them."""
    if strategy_setting != "auto" or placement.device.type != "cuda" or visible < 2:
        return None
    return (
        f"{visible} GPUs are visible and this run uses one; to use them all: "
        f"--set trainer.strategy=ddp --set trainer.devices={visible} (one process per GPU, "
        "the faster choice) or --set trainer.strategy=dp (one process; the first GPU also "
        "holds every output)"
    )
