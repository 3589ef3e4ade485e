"""Every user error: exit code 2, the key named, no traceback, nothing left behind."""

from __future__ import annotations

import pytest

GOOD = (
    "run: {name: t}\n"
    "data: {name: moons, n_samples: 100}\n"
    "model: {name: mlp}\n"
    "trainer: {epochs: 1}\n"
)

# (id, config text or None for a missing file, extra CLI args, text the message must name)
CASES = [
    ("missing-file", None, [], "no such config file"),
    ("yaml-syntax", "model: {name: mlp\n", [], "invalid YAML"),
    ("not-a-mapping", "- 1\n- 2\n", [], "must be a mapping"),
    ("scalar-doc", "42\n", [], "must be a mapping"),
    ("python-tag", "model: !!python/object/apply:os.system ['true']\n", [], "invalid YAML"),
    ("unknown-section", "optimiser: {lr: 0.1}\n", [], "optimiser"),
    ("unknown-key", "model: {hiden: [3]}\n", [], "model.hiden"),
    ("unknown-model", "model: {name: resnet}\n", [], "model.name"),
    ("unknown-optimizer", "optimizer: {name: adagrad}\n", [], "optimizer.name"),
    ("unknown-dataset", "data: {name: imagenet}\n", [], "data.name"),
    ("unknown-scheduler", "scheduler: {name: linear}\n", [], "scheduler.name"),
    ("unknown-activation", "model: {activation: swish}\n", [], "model.activation"),
    ("negative-lr", "optimizer: {lr: -0.1}\n", [], "optimizer.lr"),
    ("zero-lr", "optimizer: {lr: 0}\n", [], "optimizer.lr"),
    ("zero-epochs", "trainer: {epochs: 0}\n", [], "trainer.epochs"),
    ("zero-batch", "data: {batch_size: 0}\n", [], "data.batch_size"),
    ("split-sum", "data: {split: {train: 0.8, val: 0.3, test: 0.1}}\n", [], "data.split"),
    ("split-negative", "data: {split: {train: 1.2, val: -0.1, test: -0.1}}\n", [], "data.split"),
    ("dropout-one", "model: {dropout: 1.0}\n", [], "model.dropout"),
    ("dropout-negative", "model: {dropout: -0.2}\n", [], "model.dropout"),
    ("wrong-type", "model: {hidden: 64}\n", [], "model.hidden"),
    ("string-number", "optimizer: {lr: fast}\n", [], "optimizer.lr"),
    ("section-not-mapping", "model: mlp\n", [], "model"),
    ("bad-precision", "trainer: {precision: fp64}\n", [], "trainer.precision"),
    ("bad-device", "trainer: {device: gpu}\n", [], "trainer.device"),
    ("bad-mode", "trainer: {checkpoint: {mode: up}}\n", [], "trainer.checkpoint.mode"),
    ("set-no-equals", GOOD, ["--set", "optimizer.lr"], "--set"),
    ("set-unknown-key", GOOD, ["--set", "optimizer.learning_rate=0.1"], "optimizer.learning_rate"),
    ("set-bad-value", GOOD, ["--set", "trainer.epochs=-3"], "trainer.epochs"),
    ("set-bad-yaml", GOOD, ["--set", "model.hidden=[1,"], "model.hidden"),
    ("set-into-scalar", GOOD, ["--set", "run.name.x=1"], "run.name"),
    ("nesterov-adam", "optimizer: {name: adam, nesterov: true}\n", [], "optimizer.nesterov"),
    ("csv-no-path", "data: {name: csv}\n", [], "data.path"),
    ("val-zero", "data: {split: {train: 0.85, val: 0.0, test: 0.15}}\n", [], "data.split.val"),
    ("run-name-path", "run: {name: ../../escape}\n", [], "run.name"),
    ("negative-seed", "run: {seed: -1}\n", [], "run.seed"),
    ("zero-threads", "trainer: {threads: 0}\n", [], "trainer.threads"),
    ("word-threads", "trainer: {threads: many}\n", [], "trainer.threads"),
    ("arch-without-torchvision", "model: {name: cnn, arch: resnet18}\n", [], "model.arch"),
    ("torchvision-without-arch", "model: {name: torchvision}\n", [], "model.arch"),
]


@pytest.mark.parametrize("command", ["config", "train", "summary", "gpu-mem"])
@pytest.mark.parametrize(
    ("text", "extra", "named"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_config_errors(cli, tmp_path, command, text, extra, named):
    path = tmp_path / "bad.yaml"
    if text is not None:
        path.write_text(text)
    runs = tmp_path / "runs"
    args = [command, path, *extra] + (["--runs-root", runs] if command == "train" else [])
    result = cli(*args)
    assert result.code == 2, result
    assert named in result.err, result.err
    assert "Traceback" not in result.err + result.out
    if not extra:  # a config-file mistake names the file (a bad flag names the flag)
        assert str(path) in result.err
    assert not runs.exists() or not any(runs.rglob("summary.json"))


# Mistakes only the built parts can see: still exit 2, still before any run directory.
BUILD_CASES = [
    ("cnn-on-tabular", "model: {name: cnn}\n", "model.name"),
    ("segnet-on-classes", "model: {name: segnet}\n", "model.name"),
    ("monitor-not-logged", "trainer: {checkpoint: {monitor: val/miou}}\n", "monitor"),
    ("amp-on-cpu", "trainer: {precision: amp, device: cpu}\n", "trainer.precision"),
    ("cuda-missing", "trainer: {device: 'cuda:7'}\n", "trainer.device"),
    ("positive-class", "eval: {positive_class: 5}\n", "eval.positive_class"),
    ("devices-without-strategy", "trainer: {devices: 2}\n", "trainer.devices"),
    ("dp-without-cuda", "trainer: {strategy: dp, device: cpu}\n", "trainer.strategy"),
    ("ddp-auto-without-gpus", "trainer: {strategy: ddp, device: cpu}\n", "trainer.devices"),
    ("torchvision-on-tabular", "model: {name: torchvision, arch: resnet18}\n", "model.name"),
    ("batch-of-one-batchnorm", "model: {batchnorm: true}\ndata: {batch_size: 1}\n", "too small"),
    (
        "torchvision-unknown-arch",
        "model: {name: torchvision, arch: resnet81}\ndata: {name: digits}\n",
        "resnet18",
    ),
    (
        "torchvision-too-small",
        "model: {name: torchvision, arch: squeezenet1_1}\ndata: {name: digits}\n",
        "model.arch",
    ),
]


@pytest.mark.parametrize(
    ("text", "named"), [c[1:] for c in BUILD_CASES], ids=[c[0] for c in BUILD_CASES]
)
def test_build_errors_leave_no_run_directory(cli, tmp_path, text, named):
    import yaml

    tree = yaml.safe_load(GOOD)
    for section, values in yaml.safe_load(text).items():
        tree.setdefault(section, {}).update(values)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tree))
    runs = tmp_path / "runs"
    result = cli("train", path, "--runs-root", runs)
    assert result.code == 2, result
    assert named in result.err and str(path) in result.err
    assert "Traceback" not in result.err
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["train", "configs/linear.yaml", "--sett", "x=1"], "--sett"),
        (["train", "configs/linear.yaml", "--run"], "--run"),  # no prefix matching
        (["eval", "runs/does-not-exist"], "does-not-exist"),
        (["eval", "configs", "--split", "dev"], "--split"),
        (["runs", "no/such/folder"], "no/such/folder"),
        (["train", "configs/linear.yaml", "--run-dir", "pyproject.toml"], "pyproject.toml"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_flag_and_path_errors(cli, args, named):
    result = cli(*args)
    assert result.code == 2, result
    assert named in result.err
    assert "Traceback" not in result.err


def test_debug_shows_the_traceback(cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: {name: resnet}\n")
    from mlcore.errors import MlcoreError

    with pytest.raises(MlcoreError):
        import sys

        from mlcore.cli import main

        sys.argv = ["mlcore", "--debug", "config", str(path)]
        main()


@pytest.mark.parametrize("command", ["config", "summary"])  # plain echo, and a Rich table
def test_a_closed_pipe_ends_quietly(command):
    """`mlcore ... | head`: when the reader has gone, exit 141 (128 + SIGPIPE) with nothing
    on stderr, as Unix tools do; not a traceback, not a bare exit 1."""
    import subprocess
    import sys

    from conftest import REPO

    proc = subprocess.Popen(
        [sys.executable, "-m", "mlcore", command, "configs/cnn.yaml"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader goes away before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""


def test_an_empty_config_is_refused(cli, tmp_path):
    for text in ("", "# only a comment\n", "{}\n"):
        path = tmp_path / "empty.yaml"
        path.write_text(text)
        result = cli("train", path, "--runs-root", tmp_path / "runs")
        assert result.code == 2 and "empty config; see configs/" in result.err
        assert not (tmp_path / "runs").exists()
