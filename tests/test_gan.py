"""The GAN inside the one trainer: its step, its metric, resume, eval, sample, bad configs."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
from conftest import InterruptAt

from mlcore import api
from mlcore.config import validate
from mlcore.errors import MlcoreError
from mlcore.evaluation.generation_metrics import classifier_report, kl_from_uniform, mixture_report
from mlcore.training.build import build_parts
from mlcore.training.trainer import Interrupted

RING = {
    "run": {"name": "g", "seed": 1},
    "data": {"name": "gaussian_ring", "n_samples": 400, "batch_size": 32},
    "model": {
        "name": "gan",
        "latent_dim": 4,
        "generator": {"hidden": [16, 16]},
        "discriminator": {"hidden": [16, 16]},
        "ema": 0.9,
    },
    "trainer": {"epochs": 2, "device": "cpu", "sample_every": 1},
}


def rows(path) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(path.open())]


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def changed(module: torch.nn.Module, before: list[torch.Tensor]) -> bool:
    return any(not torch.equal(p, b) for p, b in zip(module.parameters(), before))


def test_the_step_is_a_part_built_with_the_others():
    from mlcore.training.gan_step import GanStep
    from mlcore.training.step import SupervisedStep

    mlp = build_parts(validate({"data": {"name": "moons", "n_samples": 50}, "model": {}}))
    assert isinstance(mlp.step, SupervisedStep) and mlp.step.optimizer is mlp.optimizer
    assert mlp.step.columns == ("loss",) and mlp.step.state_dict() == {}
    gan = build_parts(validate(RING))
    assert isinstance(gan.step, GanStep) and gan.step.g_opt is gan.optimizer
    d_params = {id(p) for g in gan.step.d_opt.param_groups for p in g["params"]}
    assert d_params == {id(p) for p in gan.model.discriminator.parameters()}


@pytest.mark.parametrize("loss", ["bce", "hinge"])
def test_each_phase_updates_only_its_network(loss):
    tree = {**RING, "model": {**RING["model"], "loss": loss}}
    parts = build_parts(validate(tree))
    gan, step = parts.model, parts.step
    x, y = next(iter(parts.loaders["train"].epoch(1)))
    g0, d0 = snapshot(gan.generator), snapshot(gan.discriminator)
    step._d_phase(x)
    assert changed(gan.discriminator, d0) and not changed(gan.generator, g0)
    g1, d1, e1 = snapshot(gan.generator), snapshot(gan.discriminator), snapshot(gan.ema)
    step._g_phase(len(x), x.device)
    assert changed(gan.generator, g1) and not changed(gan.discriminator, d1)
    assert changed(gan.ema, e1)  # the average follows the generator
    out = step(x, y)
    assert set(out) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(math.isfinite(v) for v in out.values())


def test_pack_feeds_the_discriminator_samples_side_by_side():
    tree = {**RING, "model": {**RING["model"], "pack": 3}}
    parts = build_parts(validate(tree))
    x = torch.randn(32, 2)
    assert parts.model.discriminator[0].in_features == 6
    assert parts.model.judge(x).shape == (10, 1)  # 32 // 3 packs; the 2 left over dropped
    assert all(math.isfinite(v) for v in parts.step(x, None).values())


def test_d_steps_updates_the_generator_every_kth_step():
    tree = {**RING, "model": {**RING["model"], "d_steps": 3}}
    parts = build_parts(validate(tree))
    x, y = next(iter(parts.loaders["train"].epoch(1)))
    moved = []
    for _ in range(6):
        before = snapshot(parts.model.generator)
        parts.step(x, y)
        moved.append(changed(parts.model.generator, before))
    assert moved == [False, False, True, False, False, True]


RING_CENTRES = torch.tensor(
    [[2 * math.cos(a), 2 * math.sin(a)] for a in torch.arange(8) * (2 * math.pi / 8)]
)


def test_coverage_on_hand_made_samples():
    std = 0.02
    one = RING_CENTRES[3] + 0.01 * torch.randn(500, 2)  # all within 3 std of mode 3
    r = mixture_report(one, RING_CENTRES, std)
    assert r["modes_covered"] == 1 and r["high_quality_fraction"] == 1.0
    assert r["mode_kl"] == pytest.approx(math.log(8))
    even = RING_CENTRES.repeat(100, 1) + 0.01 * torch.randn(800, 2)
    r = mixture_report(even, RING_CENTRES, std)
    assert r["modes_covered"] == 8 and r["num_modes"] == 8
    assert r["high_quality_fraction"] == 1.0 and r["mode_kl"] == pytest.approx(0.0, abs=1e-12)
    far = torch.full((300, 2), 10.0)
    r = mixture_report(far, RING_CENTRES, std)
    assert r["high_quality_fraction"] == 0.0 and r["modes_covered"] == 0
    # a mode with under 1% of the good samples is not covered
    few = torch.cat([RING_CENTRES[0].repeat(995, 1), RING_CENTRES[1].repeat(5, 1)])
    assert mixture_report(few, RING_CENTRES, std)["modes_covered"] == 1


def test_classifier_report_counts_confident_classes():
    probs = torch.zeros(100, 10)
    probs[:50, 2] = 0.95  # 50 confident 2s
    probs[50:, 7] = 0.5  # 50 unsure 7s
    r = classifier_report(probs)
    assert r["confident_fraction"] == 0.5 and r["classes_generated"] == 1
    assert r["class_kl"] == pytest.approx(
        kl_from_uniform(torch.tensor([0, 0, 50] + [0] * 4 + [50, 0, 0]))
    )


def test_gan_run_directory_eval_and_sample(tmp_path, write_config, cli):
    run, summary = api.train(write_config(RING), run_dir=tmp_path / "run")
    rows = list(csv.DictReader(run.metrics.open()))
    for key in ("train/d_loss", "train/g_loss", "train/d_real", "train/d_fake", "val/score",
                "val/quality", "val/coverage", "val/kl", "grad/generator.0",
                "grad/discriminator.0"):  # fmt: skip
        assert key in rows[0], key
    assert "val/loss" not in rows[0] and "grad/ema.0" not in rows[0]
    assert summary["best"]["monitor"] == "val/score"
    assert summary["test"]["task"] == "generation" and summary["test"]["num_modes"] == 8
    for name in ("samples.png", "samples_epoch_001.png", "samples_epoch_002.png",
                 "discriminator.png", "loss.png"):  # fmt: skip
        assert (run.plots / name).is_file(), name
    state = torch.load(run.last, weights_only=True)
    assert "discriminator_optimizer" in state["step_state"]
    result = cli("eval", run.path, "--json")
    assert result.code == 0 and json.loads(result.out)["task"] == "generation"
    result = cli("eval", run.path, "--split", "val")  # no split is read: not labelled one
    assert result.code == 2 and "--split val: a GAN is judged on samples" in result.err
    assert len(result.err.strip().splitlines()) == 1 and not (run.path / "eval_val.json").exists()
    out = tmp_path / "s.csv"
    result = cli("sample", run.path, "-n", "50", "--out", out, "--seed", "3")
    assert result.code == 0, result.err
    lines = out.read_text().splitlines()
    assert lines[0] == "x0,x1" and len(lines) == 51 and out.with_suffix(".png").is_file()
    again = tmp_path / "t.csv"
    cli("sample", run.path, "-n", "50", "--out", again, "--seed", "3")
    assert again.read_text() == out.read_text()  # the seed fixes the draw
    cli("sample", run.path, "-n", "50", "--out", tmp_path / "u.png", "--seed", "3")
    assert (tmp_path / "u.csv").read_text() == out.read_text()  # vectors: a CSV, whatever
    assert (tmp_path / "u.png").read_bytes()[:4] == b"\x89PNG"  # the suffix asked for


@pytest.mark.parametrize(
    ("at", "precision"), [(7, "fp32"), (13, "fp32"), (13, "bf16")]
)  # mid-epoch 1, mid-epoch 2 (9 batches an epoch); bf16: autocast, on CPU too
def test_interrupted_and_resumed_gan_is_bit_identical(tmp_path, write_config, at, precision):
    trainer = {**RING["trainer"], "precision": precision}
    cfg = write_config({**RING, "model": {**RING["model"], "d_steps": 2}, "trainer": trainer})
    full, full_summary = api.train(cfg, run_dir=tmp_path / "full")
    with pytest.raises(Interrupted):
        api.train(cfg, run_dir=tmp_path / "cut", reporter=InterruptAt(at))
    run, summary = api.train(None, resume=tmp_path / "cut")
    a = torch.load(full.last, weights_only=True)
    b = torch.load(run.last, weights_only=True)
    for name, tensor in a["model"].items():  # both networks and the EMA
        assert torch.equal(tensor, b["model"][name]), name
    for key in ("optimizer", "step_state"):  # both optimizers' moments and the step count
        assert repr(a[key]) == repr(b[key]), key
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert rows(full.metrics) == rows(run.metrics)
    assert summary["test"] == full_summary["test"]


@pytest.mark.slow  # two judges trained (~20 s each on 2 loaded cores)
def test_a_resumed_image_gan_is_bit_identical_past_its_first_validation(
    tmp_path, write_config, monkeypatch
):
    # The resumed session loads the cached judge at its first validation (end of epoch 2),
    # where the first session drew nothing: loading it must not draw from the run's RNG,
    # or epoch 3's latents shift (the ring's judge has no weights, so the ring test passes).
    monkeypatch.setattr("mlcore.evaluation.judges.JUDGE_STEPS", 1000)  # a quick judge
    tree = {
        "run": {"name": "d", "seed": 0},
        "data": {"name": "digits", "batch_size": 128},
        "model": {"name": "gan", "latent_dim": 8, "generator": {"channels": [16, 8]},
                  "discriminator": {"channels": [8, 16]}},
        "trainer": {"epochs": 3, "device": "cpu", "sample_every": 0},
    }  # fmt: skip
    cfg = write_config(tree)
    full, _ = api.train(cfg, run_dir=tmp_path / "full")
    with pytest.raises(Interrupted):  # 10 batches an epoch: mid-epoch 2
        api.train(cfg, run_dir=tmp_path / "cut", reporter=InterruptAt(15))
    run, _ = api.train(None, resume=tmp_path / "cut")
    assert rows(full.metrics) == rows(run.metrics)
    a = torch.load(full.last, weights_only=True)["model"]
    b = torch.load(run.last, weights_only=True)["model"]
    for name, tensor in a.items():
        assert torch.equal(tensor, b[name]), name


def test_image_gan_trains_caches_its_judge_and_samples_a_grid(tmp_path, write_config, cli):
    tree = {
        "run": {"name": "d", "seed": 0},
        "data": {"name": "digits", "batch_size": 64},
        "model": {"name": "gan", "latent_dim": 8, "generator": {"channels": [16, 8]},
                  "discriminator": {"channels": [8, 16]}},
        "trainer": {"epochs": 1, "device": "cpu"},
    }  # fmt: skip
    run, summary = api.train(write_config(tree), run_dir=tmp_path / "run")
    assert (run.path / "judge.pt").is_file()
    test = summary["test"]
    assert test["num_classes"] == 10 and test["judge_val_accuracy"] > 0.9
    assert 0.0 <= test["confident_fraction"] <= 1.0
    result = cli("sample", run.path, "-n", "16")
    assert result.code == 0, result.err
    assert (run.path / "samples" / "best_seed0_n16.png").is_file()


GAN = "model: {name: gan, generator: {}, discriminator: {}}\n"
BAD = [
    ("no-generator", "data: {name: gaussian_ring}\nmodel: {name: gan, discriminator: {}}\n",
     "model.generator"),
    ("no-discriminator", "data: {name: gaussian_ring}\nmodel: {name: gan, generator: {}}\n",
     "model.discriminator"),
    ("d-optimizer-on-a-classifier", "data: {name: moons}\ndiscriminator_optimizer: {lr: 0.1}\n",
     "discriminator_optimizer"),
    ("gan-on-labelled-tabular", "data: {name: moons}\n" + GAN, "model.name"),
    ("generator-on-mlp", "model: {name: mlp, generator: {}}\n", "model.generator"),
    ("bad-gan-loss", "data: {name: gaussian_ring}\n" + GAN.replace("}\n", ", loss: wgan}\n"),
     "model.loss"),
    ("ema-out-of-range", "data: {name: gaussian_ring}\n" + GAN.replace("}\n", ", ema: 1.5}\n"),
     "model.ema"),
    ("classifier-on-ring", "data: {name: gaussian_ring}\nmodel: {name: mlp}\n", "data.name"),
    ("gan-monitor-val-loss", "data: {name: gaussian_ring}\n" + GAN
     + "trainer: {checkpoint: {monitor: val/loss}}\n", "trainer.checkpoint.monitor"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "named"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_gan_configs_exit_2_with_one_line(cli, tmp_path, text, named):
    path = tmp_path / "bad.yaml"
    path.write_text(text + "trainer: {epochs: 1, device: cpu}\n" if "trainer" not in text
                    else text)  # fmt: skip
    runs = tmp_path / "runs"
    result = cli("train", path, "--runs-root", runs)
    assert result.code == 2, result
    assert named in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert not runs.exists() or not any(runs.iterdir())


def test_gan_defaults_fill_what_the_user_left_out():
    cfg = validate({"data": {"name": "gaussian_ring"}, "model": {"name": "gan", "generator": {},
                    "discriminator": {}}, "optimizer": {"lr": 1e-3}})  # fmt: skip
    assert cfg.optimizer.lr == 1e-3 and tuple(cfg.optimizer.betas) == (0.5, 0.999)
    d = cfg.discriminator_optimizer
    assert d.name == "adam" and d.lr == 2e-4 and tuple(d.betas) == (0.5, 0.999)
    assert cfg.trainer.checkpoint.monitor == "val/score" and cfg.trainer.checkpoint.mode == "max"
    assert cfg.model.latent_dim == 8 and cfg.model.loss == "bce" and cfg.model.d_steps == 1
    plain = validate({"model": {"name": "mlp"}})
    assert plain.optimizer.lr == 1e-3 and plain.discriminator_optimizer is None


def test_a_gan_refuses_dataparallel_before_any_device_is_touched():
    # On a CUDA machine dp reaches the build; here the CPU check would refuse it first, so
    # the GAN's own refusal (which names ddp) is checked on the config alone.
    from mlcore.training.gan_parts import check_gan

    cfg = validate({**RING, "trainer": {**RING["trainer"], "strategy": "dp", "devices": 2}})
    with pytest.raises(MlcoreError, match="dp is not supported for it \\(use ddp\\)"):
        check_gan(cfg)


def test_a_bf16_gan_runs_its_networks_under_autocast(write_config, tmp_path):
    """bf16 changes what the networks compute (so the losses differ from fp32's), while
    the losses and the weights stay fp32 and finite."""
    losses = {}
    for precision in ("fp32", "bf16"):
        trainer = {**RING["trainer"], "epochs": 1, "precision": precision}
        cfg = write_config({**RING, "trainer": trainer})
        run, _ = api.train(cfg, run_dir=tmp_path / precision)
        losses[precision] = rows(run.metrics)[0]["train/d_loss"]
        state = torch.load(run.last, weights_only=True)["model"]
        assert all(t.dtype == torch.float32 and torch.isfinite(t).all() for t in state.values())
    assert losses["fp32"] != losses["bf16"]


@pytest.mark.parametrize("scheduler", ["cosine", "onecycle"])
def test_a_schedule_moves_both_networks_learning_rates(write_config, tmp_path, scheduler):
    """Each optimizer follows the schedule from its own lr (onecycle's peak, 10x each)."""
    cfg = write_config({
        **RING, "scheduler": {"name": scheduler},
        "optimizer": {"name": "adam", "lr": 1e-3}, "discriminator_optimizer": {"lr": 4e-3},
    })  # fmt: skip
    run, _ = api.train(cfg, run_dir=tmp_path / "run")
    state = torch.load(run.last, weights_only=True)
    g_lr = state["optimizer"]["param_groups"][0]["lr"]
    d_lr = state["step_state"]["discriminator_optimizer"]["param_groups"][0]["lr"]
    assert g_lr != 1e-3 and d_lr != 4e-3  # both moved
    assert d_lr == pytest.approx(4 * g_lr)  # in step, each from its own lr


def test_the_image_judge_draws_nothing_from_the_runs_rng(tmp_path, monkeypatch):
    """Made fresh (rank 0, a new run) or loaded (a resume), the judge leaves the run's RNG
    where it was: DDP ranks that never make it, and resumed sessions, draw the same latents
    as one uninterrupted process."""
    from mlcore.data import build_data
    from mlcore.evaluation.judges import ClassifierJudge

    monkeypatch.setattr("mlcore.evaluation.judges.JUDGE_STEPS", 200)
    cfg = validate({"data": {"name": "digits", "n_samples": 300}})
    data = build_data(cfg.data, seed=0)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    fresh = ClassifierJudge(data, cfg.eval, tmp_path)
    assert torch.equal(torch.get_rng_state(), before)
    fresh.save(tmp_path)
    loaded = ClassifierJudge(data, cfg.eval, tmp_path)
    assert torch.equal(torch.get_rng_state(), before)
    x = data.val.x[:16]
    assert torch.equal(fresh.net(x), loaded.net(x))
