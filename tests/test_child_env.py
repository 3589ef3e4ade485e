"""The processes mlcore starts (DDP ranks, sweep trials) import the parent's mlcore, even
from a folder that holds another `mlcore/`."""

from __future__ import annotations

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
