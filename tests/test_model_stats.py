"""Model measures: weight sparsity and L2 norm on planted weights, dead ReLU units on a layer
whose bias kills it, leaky ReLU apart, and trainer.log_model_stats leaving training alone."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mlcore import api
from mlcore.evaluation.model_stats import (
    DeadReluProbe,
    model_stat_columns,
    stat_columns,
    weight_stats,
)

MOONS = {
    "run": {"name": "t", "seed": 3},
    "data": {"name": "moons", "n_samples": 200, "noise": 0.2, "batch_size": 16},
    "model": {"name": "mlp", "hidden": [8, 8], "dropout": 0.2},
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    "trainer": {"epochs": 2, "device": "cpu"},
}


def _planted() -> nn.Sequential:
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.0, 5e-4, -5e-4, 2.0]] * 3))  # 9 of 12 below 1e-3
        net[0].bias.fill_(100.0)  # biases are not weights: never counted
        net[2].weight.copy_(torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]]))  # 4 of 6
    return net


def test_sparsity_and_norm_on_planted_weights():
    stats = weight_stats(_planted())
    first, second = stats["layers"]
    assert (first["layer"], first["params"]) == ("0", 12)
    assert first["sparsity"] == pytest.approx(9 / 12)
    assert first["norm"] == pytest.approx(math.sqrt(3 * (4.0 + 2 * 2.5e-7)))
    assert (second["layer"], second["sparsity"], second["norm"]) == ("2", 4 / 6, 5.0)
    assert stats["params"] == 18
    assert stats["sparsity"] == pytest.approx(13 / 18)
    assert stats["norm"] == pytest.approx(math.hypot(first["norm"], 5.0))


def test_a_layer_forced_negative_by_its_bias_is_dead():
    net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        net[0].weight.fill_(0.1)
        net[0].bias.copy_(torch.tensor([-1e3, -1e3, 0.5, 0.5]))  # units 0, 1 never fire
        net[2].weight.fill_(0.1)
        net[2].bias.fill_(-1e3)  # the whole second layer is dead
    x = torch.randn(50, 2)
    with DeadReluProbe(net) as probe:
        for chunk in x.split(16):  # several batches: dead means dead on every one of them
            net(chunk)
    rep = probe.report()
    assert [(r["layer"], r["units"], r["dead"]) for r in rep["layers"]] == [
        ("1", 4, 0.5),
        ("3", 3, 1.0),
    ]
    assert rep["dead_relu"] == pytest.approx(5 / 7)
    assert rep["never_positive"] is None
    net(x)  # the hooks are gone after the with block
    assert probe.report() == rep


def test_unit_alive_if_it_fires_on_one_sample_only():
    net = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.fill_(0.0)
    with DeadReluProbe(net) as probe:
        net(torch.tensor([[-1.0], [-2.0]]))
        net(torch.tensor([[-3.0], [0.5]]))
    assert probe.report()["dead_relu"] == 0.0


def test_conv_channels_are_units_and_leaky_relu_is_counted_apart():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 1), nn.LeakyReLU())
    with torch.no_grad():
        net[0].weight.fill_(0.1)
        net[0].bias.copy_(torch.tensor([-1e3, 1.0]))  # channel 0 dead
        net[2].weight.fill_(0.1)
        net[2].bias.copy_(torch.tensor([-1e3, 1.0]))  # leaky channel 0 never positive
    with DeadReluProbe(net) as probe:
        net(torch.rand(4, 1, 6, 6))
    rep = probe.report()
    assert [(r["kind"], r["units"], r["dead"]) for r in rep["layers"]] == [
        ("relu", 2, 0.5),
        ("leaky_relu", 2, 0.5),
    ]
    assert (rep["dead_relu"], rep["never_positive"]) == (0.5, 0.5)


def test_no_relu_gives_null_and_no_dead_relu_column():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid())
    assert model_stat_columns(net) == ["weights/sparsity", "weights/norm"]
    assert "val/dead_relu" in model_stat_columns(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    with DeadReluProbe(net) as probe:
        net(torch.randn(3, 2))
    section = {"weights": weight_stats(net), "activations": probe.report()}
    assert section["activations"]["dead_relu"] is None
    assert math.isnan(stat_columns(section)["val/dead_relu"])


@pytest.mark.slow
def test_log_model_stats_adds_columns_and_changes_nothing_else(tmp_path, write_config):
    off, off_summary = api.train(write_config(MOONS, "off.yaml"), run_dir=tmp_path / "off")
    on_tree = {**MOONS, "trainer": {**MOONS["trainer"], "log_model_stats": True}}
    on, on_summary = api.train(write_config(on_tree, "on.yaml"), run_dir=tmp_path / "on")
    rows_off, rows_on = off.read_metrics(), on.read_metrics()
    assert "weights/sparsity" not in rows_off[0]
    for a, b in zip(rows_off, rows_on, strict=True):
        assert {k: v for k, v in a.items() if k != "seconds"} == {
            k: v for k, v in b.items() if k in a and k != "seconds"
        }
        assert 0.0 <= float(b["weights/sparsity"]) <= 1.0 and float(b["weights/norm"]) > 0
        assert 0.0 <= float(b["val/dead_relu"]) <= 1.0
    a, b = (torch.load(r.best, weights_only=True)["model"] for r in (off, on))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the test report measures the model either way, and the last column matches it
    for summary in (off_summary, on_summary):
        assert summary["test"]["model"]["weights"]["params"] == 2 * 8 + 8 * 8 + 8 * 2
        assert summary["test"]["baseline"]["majority_class"] in ("upper", "lower")
    assert (tmp_path / "on" / "plots" / "model_stats.png").is_file()


@pytest.mark.slow
def test_eval_json_has_model_section_and_baseline(tmp_path, write_config, cli):
    import json

    tree = {**MOONS, "trainer": {**MOONS["trainer"], "epochs": 1}}
    run, _ = api.train(write_config(tree), run_dir=tmp_path / "run")
    result = cli("eval", run.path, "--split", "val", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert set(report["model"]) == {"weights", "activations", "sparse_below"}
    relus = report["model"]["activations"]["layers"]
    assert [(r["layer"], r["label"]) for r in relus] == [
        ("hidden.1", "after linear 1"),
        ("hidden.4", "after linear 2"),
    ]
    weights = report["model"]["weights"]["layers"]
    assert [r["label"] for r in weights] == ["linear 1", "linear 2", "linear 3 (output)"]
    assert report["baseline"]["majority_class"] in ("upper", "lower")
    table = cli("eval", run.path)
    assert "Model: weights" in table.out and "dead ReLU units:" in table.out
    assert "linear 1 · hidden.0" in table.out and "after linear 2 · hidden.4" in table.out


def _ddp_probe_worker(rank: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        net = nn.Sequential(nn.Linear(1, 3), nn.ReLU())
        with torch.no_grad():
            net[0].weight.copy_(torch.tensor([[1.0], [-1.0], [0.0]]))
            net[0].bias.zero_()
        with DeadReluProbe(net) as probe:
            if rank == 0:  # unit 0 fires here; rank 1's share of the split is empty
                net(torch.tensor([[1.0], [0.5]]))
        probe.all_reduce()
        torch.save(probe.report()["dead_relu"], f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_dead_units_agree_across_processes_even_one_without_batches(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_probe_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    for rank in (0, 1):  # unit 0 fired on rank 0 only: alive everywhere; 1 and 2 dead
        assert torch.load(tmp_path / f"rank{rank}.pt") == pytest.approx(2 / 3)


def test_long_model_tables_show_first_and_last_layers():
    from rich.console import Console

    from mlcore.evaluation.model_table import render_model_section

    layers = [nn.Linear(4, 4) for _ in range(20)]
    net = nn.Sequential(*[m for lin in layers for m in (lin, nn.ReLU())])
    with DeadReluProbe(net) as probe:
        net(torch.randn(3, 4))
    section = {"weights": weight_stats(net), "activations": probe.report()}
    console = Console(record=True, width=120)
    for part in render_model_section(section):
        console.print(part)
    text = console.export_text()
    assert "linear 1 · 0" in text and "linear 20 (output) · 38" in text
    assert "linear 10 ·" not in text and "… 8 more layers (eval --json lists them)" in text
    assert "after linear 1 · 1" in text and "… 8 more" in text
