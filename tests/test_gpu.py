"""The CUDA code paths: training in fp32 / amp / bf16 on a GPU, and gpu-mem's estimate
against the memory a real step takes. Skipped, with the reason, where no GPU exists."""

from __future__ import annotations

import pytest
import torch
from conftest import REPO

from mlcore.config import load_config

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def train_on_cuda(cli, run, config: str, precision: str):
    """Two epochs of a shipped config on the GPU at `precision`; the run must complete."""
    result = cli(
        "train", REPO / "configs" / config, "--set", "trainer.epochs=2",
        "--set", "trainer.device=cuda", "--set", f"trainer.precision={precision}",
        "--run-dir", run, "--quiet",
    )  # fmt: skip
    assert result.code == 0, result.err
    return result


@pytest.mark.parametrize("precision", ["fp32", "amp", "bf16"])
def test_train_on_cuda(cli, tmp_path, precision):
    run = tmp_path / "run"
    result = train_on_cuda(cli, run, "cnn.yaml", precision)
    assert "completed: 2 epochs" in result.out
    assert torch.load(run / "checkpoints/best.pt", weights_only=True)["model"]


@pytest.mark.parametrize("precision", ["amp", "bf16"])
def test_gan_trains_on_cuda(cli, tmp_path, precision):
    """The GAN's amp path: a GradScaler per network, the losses in fp32."""
    run = tmp_path / "run"
    train_on_cuda(cli, run, "gan_digits.yaml", precision)
    state = torch.load(run / "checkpoints/last.pt", weights_only=True)
    assert all(torch.isfinite(t).all() for t in state["model"].values())
    assert ("scalers" in state["step_state"]) == (precision == "amp")


@pytest.mark.parametrize("precision", ["fp32", "amp"])
def test_estimate_matches_a_real_cuda_step(precision):
    """Allocated within 3% of a real step's peak (an MLP: no cuDNN workspace involved).
    The cuBLAS workspaces outlive a step, so a first run creates them and the measured run
    is compared with the estimate less its workspaces."""
    from mlcore.memory.estimate import Request, estimate, workspaces
    from mlcore.memory.spec import data_spec
    from mlcore.memory.trace import trace_step

    cfg = load_config(REPO / "configs/mlp_spirals.yaml", ["model.hidden=[2048,2048]"])
    spec, _ = data_spec(cfg)
    trace_step(cfg, spec, 512, precision, fake=False, device="cuda", steps=1)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    trace_step(cfg, spec, 512, precision, fake=False, device="cuda", steps=3)
    real = torch.cuda.max_memory_allocated() - base
    req = Request(512, precision, "single", 1, 0, cfg.trainer.deterministic)
    row = estimate(cfg, spec, req)["per_device"][0]
    ws = workspaces(trace_step(cfg, spec, 512, precision), cfg.trainer.deterministic)
    assert ws > 0
    assert abs(row["allocated_bytes"] - ws - real) <= 0.03 * real


def _gpus(n: int):
    return pytest.mark.skipif(torch.cuda.device_count() < n, reason=f"needs {n} CUDA devices")


def _summary(run):
    import json

    return json.loads((run / "summary.json").read_text())


def test_one_gpu_run_records_its_peak_memory(cli, tmp_path):
    run = tmp_path / "run"
    result = cli(
        "train", REPO / "configs/mlp_moons.yaml", "--set", "trainer.epochs=1",
        "--set", "trainer.device=cuda", "--set", "trainer.strategy=single",
        "--run-dir", run, "--quiet",
    )  # fmt: skip
    assert result.code == 0, result.err
    (peak,) = _summary(run)["gpu_memory"]
    assert peak["device"] == "cuda:0" and peak["peak_allocated_bytes"] > 0


@_gpus(2)
def test_dataparallel_reports_every_gpu_and_the_first_holds_more(cli, tmp_path):
    run = tmp_path / "run"
    result = cli(
        "train", REPO / "configs/cnn.yaml", "--set", "trainer.epochs=1",
        "--set", "trainer.device=cuda", "--set", "trainer.strategy=dp",
        "--set", "data.batch_size=256", "--run-dir", run,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "peak GPU memory: cuda:0" in result.out
    peaks = [d["peak_allocated_bytes"] for d in _summary(run)["gpu_memory"]]
    assert len(peaks) == torch.cuda.device_count() and peaks[0] > max(peaks[1:])


@_gpus(2)
def test_ddp_over_two_gpus_started_by_mlcore(tmp_path):
    import subprocess
    import sys

    run = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "mlcore", "train", str(REPO / "configs/cnn.yaml"),
         "--set", "trainer.epochs=2", "--set", "trainer.strategy=ddp",
         "--set", "trainer.devices=2", "--run-dir", str(run), "--quiet"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(nccl)" in result.stderr
    summary = _summary(run)
    assert summary["status"] == "completed" and summary["world_size"] == 2
