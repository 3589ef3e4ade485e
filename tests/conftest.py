"""Shared fixtures: run the real CLI in-process, write small configs under tmp_path."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """cli(*args) runs `mlcore ARGS` through the real entry point, as a user would."""
    from mlcore.cli import main
    from mlcore.cli.exits import State

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["mlcore", *map(str, args)])
        State.debug = False
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def write_config(tmp_path):
    """write_config(tree, name) -> path of a YAML file holding `tree`."""

    def write(tree: dict, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(tree))
        return path

    return write


def tiny(tree: dict, epochs: int = 2) -> dict:
    """Shrink a config for a test: few epochs, CPU, no grad-norm logging unless asked."""
    tree = yaml.safe_load(yaml.safe_dump(tree))
    trainer = tree.setdefault("trainer", {})
    trainer["epochs"] = epochs
    trainer["device"] = "cpu"
    return tree


class InterruptAt:
    """A reporter that sends the process a real SIGINT at global step `at`."""

    def __init__(self, at: int):
        self.at, self.steps = at, 0

    def epoch_start(self, *args) -> None: ...
    def epoch_end(self, *args) -> None: ...
    def warn(self, message: str) -> None: ...

    def step(self, batch: int, loss: float) -> None:
        self.steps += 1
        if self.steps == self.at:
            signal.raise_signal(signal.SIGINT)


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session, exitstatus) -> None:
    _EXIT_STATUS.append(int(exitstatus))


def pytest_unconfigure(config) -> None:
    """Leave with pytest's own status once it has reported, skipping interpreter shutdown.

    Why: a 2-core CI run of the whole suite once passed every test and then aborted while
    C++ static objects were destroyed at exit ("pybind11_object_dealloc(): Tried to
    deallocate unregistered instance", a destruction-order issue in PyTorch's extensions;
    pytorch#43484). The status is pytest's: a failing test still fails the run."""
    if _EXIT_STATUS and os.environ.get("MLCORE_TEST_FAST_EXIT", "1") == "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
