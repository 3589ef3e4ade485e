"""A refused `train --resume` leaves every file of the run as it was (issue 17).

One tiny real run is trained per module; each case damages a copy of it (or asks for what a
resume may not do), runs the real CLI and compares every file's name, size, bytes and mtime
before and after: the refusal is exit 2, one line naming what is wrong.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import REPO

EPOCHS = 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    from mlcore.api import train

    run_dir = tmp_path_factory.mktemp("trained") / "run"
    overrides = [f"trainer.epochs={EPOCHS}", "trainer.device=cpu", "trainer.threads=1"]
    train(REPO / "configs" / "mlp_moons.yaml", overrides, run_dir=run_dir)
    return run_dir


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every folder and file under root: size, mtime (ns) and a hash of the bytes."""
    out = {}
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, digest)
    return out


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda run: (run / name).write_text(text)


def _remove(name: str) -> Callable[[Path], None]:
    return lambda run: (run / name).unlink()


def _cut(name: str, size: int) -> Callable[[Path], None]:
    return lambda run: os.truncate(run / name, size)


def _edit_config(run: Path) -> None:
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("hidden: [32, 32]", "hidden: [16, 16]"))


def _foreign_checkpoint(run: Path) -> None:
    torch.save({"weight": torch.ones(2)}, run / "checkpoints" / "last.pt")


def _metrics_header_only(run: Path) -> None:
    metrics = run / "metrics.csv"
    metrics.write_text(metrics.read_text().splitlines()[0] + "\n")


def _metrics_row_cut(run: Path) -> None:
    metrics = run / "metrics.csv"
    metrics.write_text(metrics.read_text()[:-40])  # the last epoch's row, cut short


def _summary_not_utf8(run: Path) -> None:
    (run / "summary.json").write_bytes(b"\xff\xfe{}")


MORE = ("--set", "trainer.epochs=3")
CASES = {  # name: (damage, extra arguments, what the one line names)
    "summary not JSON": (_write("summary.json", "{bad"), MORE, "summary.json: unreadable"),
    "summary a list": (_write("summary.json", "[1, 2]\n"), MORE, "summary.json: not a run"),
    "summary missing": (_remove("summary.json"), MORE, "no summary.json"),
    "summary not UTF-8": (_summary_not_utf8, MORE, "summary.json: unreadable"),
    "config missing": (_remove("config.yaml"), MORE, "no config.yaml"),
    "config not YAML": (_write("config.yaml", "model: [\n"), MORE, "config.yaml: invalid YAML"),
    "config empty": (_write("config.yaml", ""), MORE, "config.yaml: empty"),
    "config edited": (_edit_config, MORE, "config.yaml: model.hidden differs"),
    "last.pt missing": (_remove("checkpoints/last.pt"), MORE, "last.pt: no such checkpoint"),
    "last.pt truncated": (_cut("checkpoints/last.pt", 1000), MORE, "last.pt: not a readable"),
    "last.pt not mlcore's": (_foreign_checkpoint, MORE, "last.pt: not an mlcore checkpoint"),
    "metrics header only": (_metrics_header_only, MORE, "metrics.csv: no rows for epochs 1-2"),
    "metrics row cut": (_metrics_row_cut, MORE, "metrics.csv: line 3 (epoch 2) is cut short"),
    "metrics missing": (_remove("metrics.csv"), MORE, "metrics.csv: no rows for epochs 1-2"),
    "metrics not CSV": (_write("metrics.csv", "a,b\n1,2\n"), MORE, "metrics.csv: not a metrics"),
    "completed": (lambda run: None, (), f"all {EPOCHS} epochs are done"),
    "model change": (lambda run: None, ("--set", "model.hidden=[8]"), "model.hidden cannot"),
    "scheduler change": (lambda run: None, ("--set", "scheduler.name=step"), "scheduler.name"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_refused_resume_changes_no_file(case, trained, tmp_path, cli):
    damage, extra, names = CASES[case]
    run = tmp_path / "run"
    shutil.copytree(trained, run)  # copy2: mtimes kept, so an unchanged file stays equal
    damage(run)
    before = snapshot(run)
    result = cli("train", "--resume", run, *extra)
    assert snapshot(run) == before
    assert result.code == 2, result.out + result.err
    lines = (result.out + result.err).strip().splitlines()
    assert len(lines) == 1, lines
    assert names in lines[0] and str(run) in lines[0], lines[0]


def test_a_read_only_run_is_refused_before_any_write(trained, tmp_path, cli, monkeypatch):
    """As root, permissions never refuse a write: os.access answers as for a read-only mount."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    real_access = os.access

    def access(path, mode, **kwargs):
        if mode & os.W_OK and Path(path).resolve().is_relative_to(run.resolve()):
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    before = snapshot(run)
    result = cli("train", "--resume", run, "--set", "trainer.epochs=3")
    assert snapshot(run) == before
    assert result.code == 2
    lines = (result.out + result.err).strip().splitlines()
    assert len(lines) == 1 and f"{run}: read-only" in lines[0], lines


def test_the_same_copy_resumes_when_nothing_is_wrong(trained, tmp_path, cli):
    """The cases above fail for the damage alone: an intact copy resumes, and what resume
    rewrote (config.yaml) holds the raised epochs."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    result = cli("train", "--resume", run, "--set", "trainer.epochs=3", "--quiet")
    assert result.code == 0, result.out + result.err
    assert "epochs: 3" in (run / "config.yaml").read_text()
    assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 3
