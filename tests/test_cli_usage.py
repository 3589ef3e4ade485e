"""A mistake on the command line itself (an unknown flag or command, a bad choice, a missing
argument) is one line naming the flag and what is allowed, exit 2, like every other error:
not Click's usage block."""

from __future__ import annotations

import pytest

# (argv, what the one line must name)
CASES = [
    (["train", "configs/linear.yaml", "--epochs", "3"], "No such option: --epochs"),
    (["eval", "runs/x", "--split", "tets"], "'tets' is not one of 'test', 'val', 'train'"),
    (["eval", "runs/x", "--checkpoint", "worst"], "'worst' is not one of 'best', 'last'"),
    (["eval"], "Missing argument"),
    (["trian"], "No such command 'trian'. Did you mean 'train'?"),
    (["train", "configs/linear.yaml", "--set"], "'--set' requires an argument"),
    (["gpu-mem", "configs/mlp_moons.yaml", "--precision", "fp8"], "'fp32', 'fp16', 'bf16'"),
    (["gpu-mem", "configs/mlp_moons.yaml", "--batch-size", "0"], "'--batch-size'"),
    (["sweep", "configs/mlp_moons.yaml", "--jobs", "x"], "'--jobs'"),
]


@pytest.mark.parametrize(("argv", "named"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_usage_mistake_is_one_line(cli, argv, named, monkeypatch):
    from conftest import REPO

    monkeypatch.chdir(REPO)
    result = cli(*argv)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: mlcore")
    assert named in lines[0]
    assert "--help" in lines[0]  # where to read what is allowed
    assert "Traceback" not in result.err and "Usage:" not in result.err
    assert result.out == ""


def test_help_and_version_still_answer(cli):
    assert cli("--version").code == 0
    shown = cli("train", "--help")
    assert shown.code == 0 and "Usage: mlcore train" in shown.out


def test_no_arguments_shows_the_help(cli):
    result = cli()
    assert result.code == 2
    assert "Commands:" in result.err + result.out
