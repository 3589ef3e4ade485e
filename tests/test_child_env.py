"""The processes mlcore starts (DDP ranks, sweep trials) import the parent's mlcore, even
from a folder that holds another `mlcore/`."""

from __future__ import annotations

import os
import subprocess
import sys

from mlcore.child_env import child_env


def test_a_child_started_beside_another_mlcore_imports_the_parents(tmp_path):
    shadow = tmp_path / "mlcore"
    shadow.mkdir()
    (shadow / "__init__.py").write_text('raise SystemExit("the other mlcore")\n')
    command = [sys.executable, "-m", "mlcore", "config", "--help"]
    plain = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert "the other mlcore" in plain.stderr  # what `python -m` alone does there
    ours = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=child_env())
    assert ours.returncode == 0 and "Validate a config" in ours.stdout, ours.stderr


def test_an_installed_mlcore_puts_nothing_before_the_standard_library(monkeypatch):
    """Installed in site-packages, mlcore is found there anyway; prepending site-packages
    to PYTHONPATH would put it before the standard library."""
    import site
    from pathlib import Path

    import mlcore

    home = str(Path(mlcore.__file__).resolve().parent.parent)
    monkeypatch.setattr(site, "getsitepackages", lambda: [home])
    env = child_env({"PYTHONPATH": "/elsewhere"})
    assert env["PYTHONPATH"] == "/elsewhere" and env["PYTHONSAFEPATH"] == "1"
    monkeypatch.setattr(site, "getsitepackages", lambda: ["/usr/lib/python3/site-packages"])
    paths = child_env({"PYTHONPATH": "/elsewhere"})["PYTHONPATH"].split(os.pathsep)
    assert paths == [home, "/elsewhere"]
