"""Peak GPU memory per device (DataParallel's uneven split) and the idle-GPU hint, with a
stand-in for torch.cuda's counters: the logic runs here without a GPU (tests/test_gpu.py
runs it on one)."""

from __future__ import annotations

import torch

from mlcore.training.device import Placement
from mlcore.training.gpu_memory import PeakMemory, describe_peaks, devices_used, idle_gpus_hint

GIB = 1024**3


class FakeCuda:
    def __init__(self):
        self.peaks: dict[int, int] = {}
        self.resets: list[int] = []

    def reset_peak_memory_stats(self, d: int) -> None:
        self.resets.append(d)
        self.peaks[d] = 0

    def max_memory_allocated(self, d: int) -> int:
        return self.peaks[d]


def test_devices_used_by_each_strategy():
    assert devices_used(Placement(torch.device("cpu"), "single")) == []
    assert devices_used(Placement(torch.device("cuda", 0), "dp", devices=3)) == [0, 1, 2]
    assert devices_used(Placement(torch.device("cuda", 2), "ddp", 4, 2)) == [2]


def test_peaks_are_reset_each_epoch_and_the_run_keeps_the_largest():
    cuda = FakeCuda()
    memory = PeakMemory([0, 1], cuda)
    memory.epoch_start()
    cuda.peaks.update({0: 3 * GIB, 1: 2 * GIB})
    assert memory.epoch_end() == {0: 3 * GIB, 1: 2 * GIB}
    memory.epoch_start()
    assert cuda.resets == [0, 1, 0, 1]
    cuda.peaks.update({0: 1 * GIB, 1: 4 * GIB})
    memory.epoch_end()
    assert memory.summary() == [
        {"device": "cuda:0", "peak_allocated_bytes": 3 * GIB},
        {"device": "cuda:1", "peak_allocated_bytes": 4 * GIB},
    ]


def test_the_first_gpu_of_dataparallel_is_named_when_it_holds_more():
    line = describe_peaks({0: 3 * GIB, 1: 2 * GIB})
    assert line == (
        "peak GPU memory: cuda:0 3.00 GiB, cuda:1 2.00 GiB (cuda:0 holds 50% more: outputs "
        "and loss)"
    )
    assert describe_peaks({0: GIB}) == "peak GPU memory: cuda:0 1.00 GiB"


def test_one_hint_when_auto_uses_one_of_several_gpus():
    one_gpu = Placement(torch.device("cuda", 0), "single")
    hint = idle_gpus_hint("auto", one_gpu, 4)
    assert "--set trainer.strategy=ddp --set trainer.devices=4" in hint and "strategy=dp" in hint
    assert idle_gpus_hint("single", one_gpu, 4) is None  # asked for one: no nagging
    assert idle_gpus_hint("auto", one_gpu, 1) is None
    assert idle_gpus_hint("auto", Placement(torch.device("cpu"), "single"), 0) is None


def test_a_non_ddp_strategy_under_torchrun_is_refused(monkeypatch):
    """Under torchrun every process would otherwise train the whole run on its own."""
    import pytest

    from mlcore.config import validate
    from mlcore.errors import MlcoreError
    from mlcore.training.device import place

    monkeypatch.setenv("WORLD_SIZE", "2")
    for strategy in ("single", "dp"):
        cfg = validate({"trainer": {"strategy": strategy, "device": "cpu"}}).trainer
        with pytest.raises(MlcoreError, match=f"{strategy}, but torchrun started 2 processes"):
            place(cfg)
