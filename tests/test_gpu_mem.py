"""gpu-mem: the allocator model, the fake trace against the same steps on real tensors,
every shipped config and registry model, the largest-batch search, and the command."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from conftest import REPO

from mlcore.config import load_config, validate
from mlcore.errors import MlcoreError
from mlcore.memory.allocator import CachingAllocator, round_size, segment_size
from mlcore.memory.estimate import Request, estimate
from mlcore.memory.replay import live_peak, replay
from mlcore.memory.search import largest_batch
from mlcore.memory.sizes import GIB, MIB, parse_size
from mlcore.memory.spec import data_spec
from mlcore.memory.trace import trace_step
from mlcore.models import MODELS

CONFIGS = sorted(p.name for p in (REPO / "configs").glob("*.yaml"))


def small(spec):
    """The same data shapes with few samples on the device: real runs stay light."""
    return dataclasses.replace(spec, resident={k: min(n, 300) for k, n in spec.resident.items()})


# -- the CUDA caching allocator model --------------------------------------------------
def test_allocator_rounding_and_segments():
    assert round_size(1) == 512 and round_size(512) == 512 and round_size(513) == 1024
    a = CachingAllocator()
    a.malloc(1)
    assert (a.allocated, a.reserved) == (512, 2 * MIB)  # small pool: a 2 MiB segment
    a = CachingAllocator()
    a.malloc(5 * MIB)
    assert (a.allocated, a.reserved) == (5 * MIB, 20 * MIB)  # 1-10 MiB: from 20 MiB
    a = CachingAllocator()
    a.malloc(11 * MIB)
    assert (a.allocated, a.reserved) == (12 * MIB, 12 * MIB)  # larger: rounded to 2 MiB
    assert segment_size(round_size(1 << 20)) == 2 * MIB  # exactly 1 MiB is still small


def test_allocator_reuses_splits_and_merges_blocks():
    a = CachingAllocator()
    first = a.malloc(3 * MIB)
    second = a.malloc(3 * MIB)  # from the rest of the same 20 MiB segment
    assert a.reserved == 20 * MIB and a.allocated == 6 * MIB
    a.free(first)
    a.free(second)  # merges with its free neighbours into one 20 MiB block
    a.malloc(19 * MIB)  # so a request this large needs no new segment
    assert a.reserved == 20 * MIB
    a.malloc(19 * MIB + 512)  # and another does: reserved only grows
    assert a.reserved == 40 * MIB and a.peak_reserved == 40 * MIB


def test_unsplit_block_counts_whole_as_allocated():
    a = CachingAllocator()
    block = a.malloc(12 * MIB)
    a.free(block)
    a.malloc(11 * MIB + 512)  # the 12 MiB block fits; the rest (< 1 MiB) is not split off
    assert a.allocated == 12 * MIB


# -- the trace against real tensors -------------------------------------------------------
@pytest.mark.parametrize("name", CONFIGS)
def test_fake_trace_equals_real_cpu_steps_for_every_config(name):
    """The fake-tensor trace's peak equals, to the byte, the live tensor bytes of the same
    two steps run on real CPU tensors (counted by the same hook)."""
    cfg = load_config(REPO / "configs" / name, ["data.batch_size=16"])
    spec = small(data_spec(cfg)[0])
    fake = trace_step(cfg, spec, 16, "fp32")
    real = trace_step(cfg, spec, 16, "fp32", fake=False)
    assert replay(fake.events).allocated == replay(real.events).allocated > 0
    if spec.task != "regression":  # CPU's mse_loss keeps its 0-d result in a [B] storage
        assert live_peak(fake.events) == live_peak(real.events)
    else:
        assert 0 <= live_peak(real.events) - live_peak(fake.events) <= 4 * 16


@pytest.mark.parametrize("name", ["gan_ring.yaml", "gan_digits.yaml"])
def test_a_bf16_gan_traces_as_its_real_steps_run(name):
    """The GAN's autocast path (bf16 runs on CPU too): fake equals real (to the byte for
    the MLP pair; CPU's bf16 convolutions keep a few hundred bytes more than the trace,
    as the supervised cnn's do: 384 B), and it differs from fp32."""
    cfg = load_config(REPO / "configs" / name, ["data.batch_size=16"])
    spec = small(data_spec(cfg)[0])
    fake = live_peak(trace_step(cfg, spec, 16, "bf16").events)
    real = live_peak(trace_step(cfg, spec, 16, "bf16", fake=False).events)
    assert 0 <= real - fake <= (0 if name == "gan_ring.yaml" else 2048) and fake > 0
    assert fake != live_peak(trace_step(cfg, spec, 16, "fp32").events)


def test_trace_agrees_with_torch_profiler():
    """An independent count: torch.profiler's memory timeline of the same real CPU steps
    (CREATE/DESTROY of every tensor) peaks within 2% of the fake trace."""
    profiler = pytest.importorskip("torch.profiler._memory_profiler")
    cfg = load_config(REPO / "configs/cnn.yaml")
    spec = small(data_spec(cfg)[0])
    with torch.profiler.profile(profile_memory=True, record_shapes=True, with_stack=True) as prof:
        trace_step(cfg, spec, 64, "fp32", fake=False)
    current = peak = 0
    for _time, action, _key, size in profiler.MemoryProfileTimeline(
        prof._memory_profile()
    ).timeline:
        if action in (profiler.Action.PREEXISTING, profiler.Action.CREATE):
            current += size
        elif action == profiler.Action.DESTROY:
            current -= size
        peak = max(peak, current)
    fake = live_peak(trace_step(cfg, spec, 64, "fp32").events)
    assert abs(peak - fake) <= 0.02 * fake


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_registry_model_traces(model):
    data = {
        "segnet": {"name": "digit_seg", "n_samples": 40},
        "gan": {"name": "gaussian_ring", "n_samples": 200},
    }.get(model, {"name": "digits"})
    tree = {"data": {**data, "batch_size": 8}, "model": {"name": model, "channels": [8, 16]}}
    if model == "torchvision":
        tree["model"] = {"name": "torchvision", "arch": "resnet18"}
    if model == "gan":  # two networks, two optimizers: GanStep is traced
        tree["model"] = {"name": "gan", "generator": {}, "discriminator": {}}
    cfg = validate(tree)
    spec = small(data_spec(cfg)[0])
    report = estimate(cfg, spec, Request(8, "fp32", "single", 1, 0, True))
    row = report["per_device"][0]
    assert not report["approximate"], report["notes"]
    assert row["parameters"] > 0 and row["activations"] > 0 and row["optimizer_states"] > 0
    assert sum(row[k] for k in ("parameters", "gradients", "optimizer_states", "activations",
                                "inputs", "other")) == row["allocated_bytes"]  # fmt: skip
    assert row["allocated_bytes"] <= row["reserved_bytes"] < row["total_bytes"] + 1


def test_optimizer_state_is_what_adam_keeps():
    """At the peak (step 2), optimizer_states are Adam's two moments per weight, each
    tensor in its own 512-byte-rounded block; its step counters stay on the host."""
    cfg = load_config(REPO / "configs/mlp_spirals.yaml")
    spec = small(data_spec(cfg)[0])
    with torch.device("meta"):
        from mlcore.models import build_model

        model = build_model(cfg.model, spec.input_shape, spec.n_out, spec.task)
    expected = sum(2 * round_size(p.numel() * 4) for p in model.parameters())
    row = estimate(cfg, spec, Request(64, "fp32", "single", 1, 0, True))["per_device"][0]
    assert row["optimizer_states"] == expected


def test_sgd_without_momentum_keeps_no_state_and_amp_halves_activations():
    cfg = load_config(REPO / "configs/cnn.yaml", ["optimizer.name=sgd"])
    spec = small(data_spec(cfg)[0])
    fp32 = estimate(cfg, spec, Request(256, "fp32", "single", 1, 0, True))["per_device"][0]
    amp = estimate(cfg, spec, Request(256, "amp", "single", 1, 0, True))["per_device"][0]
    assert fp32["optimizer_states"] == 0
    assert amp["activations"] < 0.75 * fp32["activations"]  # fp16 copies of most outputs


def test_ddp_adds_gradient_buckets_and_dp_loads_the_first_gpu():
    cfg = load_config(REPO / "configs/cnn.yaml")
    spec = small(data_spec(cfg)[0])
    single = estimate(cfg, spec, Request(64, "fp32", "single", 1, 0, True))["per_device"][0]
    ddp = estimate(cfg, spec, Request(64, "fp32", "ddp", 2, 0, True))["per_device"]
    assert len(ddp) == 1 and ddp[0]["allocated_bytes"] > single["allocated_bytes"]
    dp = estimate(cfg, spec, Request(256, "fp32", "dp", 4, 0, True))["per_device"]
    assert [d["device"] for d in dp] == ["cuda:0", "cuda:1..3"]
    assert dp[0]["allocated_bytes"] > dp[1]["allocated_bytes"]
    assert dp[1]["optimizer_states"] == 0 and dp[0]["optimizer_states"] > 0


def test_a_gan_under_ddp_gets_gradient_buckets_and_dp_is_refused(cli):
    cfg = load_config(REPO / "configs/gan_ring.yaml")
    spec = small(data_spec(cfg)[0])
    single = estimate(cfg, spec, Request(64, "fp32", "single", 1, 0, True))
    ddp = estimate(cfg, spec, Request(64, "fp32", "ddp", 2, 0, True))
    extra = ddp["per_device"][0]["gradients"] - single["per_device"][0]["gradients"]
    # DDP's bucket copy of the gradients, of the discriminator's weights at least (the
    # generator's and the discriminator's are never alive at once)
    assert extra > 0.4 * 4 * single["parameter_count"]
    result = cli("gpu-mem", REPO / "configs/gan_ring.yaml", "--strategy", "dp", "--devices", "2")
    assert result.code == 2 and "under ddp" in result.err and "Traceback" not in result.err


def test_untraceable_step_falls_back_to_formulas(monkeypatch):
    import mlcore.memory.estimate as est

    def broken(*args, **kwargs):
        raise RuntimeError("aten.some_op has no fake implementation")

    monkeypatch.setattr(est, "trace_step", broken)
    cfg = load_config(REPO / "configs/mlp_spirals.yaml")
    report = est.estimate(cfg, data_spec(cfg)[0], Request(64, "fp32", "single", 1, 0, True))
    assert report["approximate"] and "aten.some_op" in report["notes"][0]
    assert report["per_device"][0]["parameters"] > 0


# -- the largest batch ----------------------------------------------------------------
def test_largest_batch_on_a_staircase():
    def need(b: int) -> int:  # 100 MB fixed, 1 MB a sample, in 2 MB steps
        return 100 * 10**6 + 2 * 10**6 * ((b * 10**6 + 2 * 10**6 - 1) // (2 * 10**6))

    best, missing = largest_batch(need, 1_000 * 10**6, start=32, cap=None)
    assert need(best) <= 1_000 * 10**6 < need(int(best * 1.005) + 1) and missing == 0
    assert largest_batch(need, 50 * 10**6, start=32, cap=None) == (0, need(1) - 50 * 10**6)
    assert largest_batch(need, 10**12, start=32, cap=700) == (700, 0)


def test_suggested_batch_fits_and_a_larger_one_does_not(cli):
    result = cli("gpu-mem", REPO / "configs/segnet.yaml", "--set", "data.n_samples=4000",
                 "--gpu-memory", "1GiB", "--context-mb", "0", "--json")  # fmt: skip
    assert result.code == 0, result.err
    best = json.loads(result.out)["max_batch_size"]
    assert best > 64
    cfg = load_config(REPO / "configs/segnet.yaml", ["data.n_samples=4000"])
    spec = data_spec(cfg)[0]

    def reserved(b):
        return estimate(cfg, spec, Request(b, "fp32", "single", 1, 0, True))["per_device"][0][
            "reserved_bytes"
        ]

    assert reserved(best) <= GIB < reserved(int(best * 1.01) + 1)


# -- the command ------------------------------------------------------------------------
def test_gpu_mem_table(cli):
    result = cli("gpu-mem", REPO / "configs/cnn.yaml")
    assert result.code == 0, result.err
    for word in ("parameters", "gradients", "optimizer state", "activations", "allocated",
                 "reserved", "total", "weights only", "x 8 B (its FP32)", "B/param"):  # fmt: skip
        assert word in result.out, word


def test_gpu_mem_json_has_the_design_keys(cli):
    result = cli("gpu-mem", REPO / "configs/cnn.yaml", "--strategy", "dp", "--devices", "2",
                 "--precision", "amp", "--gpu-memory", "T4", "--json")  # fmt: skip
    report = json.loads(result.out)
    for key in ("batch_size", "precision", "strategy", "devices", "per_device", "peak_bytes",
                "max_batch_size"):  # fmt: skip
        assert key in report
    device = report["per_device"][0]
    for key in ("device", "parameters", "gradients", "optimizer_states", "activations",
                "inputs", "other", "allocated_bytes", "reserved_bytes", "total_bytes"):  # fmt: skip
        assert isinstance(device[key], (int, str)), key
    assert report["peak_bytes"] == max(d["allocated_bytes"] for d in report["per_device"])
    assert (report["strategy"], report["devices"], report["precision"]) == ("dp", 2, "amp")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--gpu-memory", "24 parsecs"], "24GB (decimal"),
        (["--gpu-memory", "A100"], "A100-40GB, A100-80GB"),
        (["--gpu-memory", "0"], "--gpu-memory"),
        (["--devices", "2"], "--strategy dp or ddp"),
        (["--strategy", "dp", "--devices", "4", "--batch-size", "2"], "--batch-size"),
        (["--precision", "fp64"], "--precision"),
        (["--batch-size", "1"], "batchnorm cannot normalize"),
    ],
)
def test_gpu_mem_bad_flags(cli, args, named):
    result = cli("gpu-mem", REPO / "configs/cnn.yaml", *args)
    assert result.code == 2 and named in result.err, result
    assert "Traceback" not in result.err


def test_gpu_mem_refuses_a_mismatched_model(cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: {name: moons}\nmodel: {name: cnn}\n")
    result = cli("gpu-mem", path)
    assert result.code == 2 and "model.name" in result.err and str(path) in result.err


def test_does_not_fit_at_batch_one(cli):
    result = cli("gpu-mem", REPO / "configs/cnn.yaml", "--gpu-memory", "100MiB")
    assert result.code == 0 and "does not fit" in result.out and "short" in result.out


def test_sizes():
    assert parse_size("24GiB") == 24 * GIB and parse_size("24GB") == 24 * 10**9
    assert parse_size("24000MiB") == 24000 * MIB and parse_size("1234") == 1234
    assert parse_size("a100-80gb") == 80 * GIB
    with pytest.raises(MlcoreError, match="GPU name"):
        parse_size("huge")


def test_published_sizes_without_files(tmp_path):
    cfg = load_config(REPO / "configs/resnet18_cifar10.yaml", [f"data.root={tmp_path}"])
    spec, source = data_spec(cfg)
    assert spec.input_shape == (3, 32, 32) and spec.resident["test"] == 10_000
    assert "published" in source and not Path(tmp_path, "cifar-10-batches-py").exists()


def test_a_model_with_convolutions_is_told_about_cudnn_workspaces():
    for name, convolves in (("cnn.yaml", True), ("mlp_moons.yaml", False)):
        cfg = load_config(REPO / "configs" / name)
        report = estimate(cfg, small(data_spec(cfg)[0]), Request(32, "fp32", "single", 1, 0, True))
        assert any(n.startswith("convolutions: cuDNN") for n in report["notes"]) == convolves
        assert not report["approximate"]
