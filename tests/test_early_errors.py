"""Mistakes that need no data answer before the heavy imports: those that need no torch
without importing it, those that need only torch before data, models and plots load; and a
Ctrl-C during start-up ends in one line, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG = "run: {name: t}\ndata: {name: moons, n_samples: 100}\nmodel: {name: mlp}\n"

# Runs mlcore commands in one fresh interpreter and reports, for each, its exit code and
# which heavy modules were loaded by then.
PROBE = """
import json, sys
from mlcore.cli import main
out = []
for argv in json.loads(sys.argv[1]):
    sys.argv = ["mlcore", *argv]
    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code
    heavy = ("torch", "torchvision", "sklearn", "matplotlib")
    out.append([code, [m for m in heavy if m in sys.modules]])
print(json.dumps(out))
"""


def probe(commands: list[list[str]], cwd: Path) -> tuple[list, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def fake_run(path: Path, epochs_completed: int, epochs: int = 2) -> Path:
    """A run directory as `mlcore train` leaves it, as far as the early checks read it."""
    (path / "checkpoints").mkdir(parents=True)
    (path / "checkpoints" / "last.pt").write_bytes(b"checked later, with torch")
    config = yaml.safe_load(CONFIG)
    config["trainer"] = {"epochs": epochs}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    summary = {"status": "completed", "epochs_completed": epochs_completed}
    (path / "summary.json").write_text(json.dumps(summary))
    return path


def test_errors_that_need_no_torch_do_not_import_it(tmp_path):
    (tmp_path / "c.yaml").write_text(CONFIG)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    done = fake_run(tmp_path / "done", epochs_completed=2)
    no_best = fake_run(tmp_path / "no_best", epochs_completed=1)
    cases = {
        "--run-dir full: already exists": ["train", "c.yaml", "--run-dir", "full"],
        "trainer.precision: amp": [
            "train", "c.yaml", "--set", "trainer.precision=amp", "--set", "trainer.device=cpu"],
        "trainer.strategy: dp": [
            "train", "c.yaml", "--set", "trainer.strategy=dp", "--set", "trainer.device=cpu"],
        "trainer.devices: 2": [
            "train", "c.yaml", "--set", "trainer.strategy=single", "--set", "trainer.devices=2"],
        "not a run directory": ["eval", "."],
        "no such run directory": ["eval", "nowhere"],
        "--resume .: not a run directory": ["train", "--resume", "."],
        "all 2 epochs are done": ["train", "--resume", str(done)],
        "trainer.epochs=12": ["train", "--resume", str(done)],
        "optimizer.lr cannot change": [
            "train", "--resume", str(no_best), "--set", "optimizer.lr=0.5"],
        "best.pt: no such checkpoint": ["eval", str(no_best)],
    }  # fmt: skip
    results, err = probe(list(cases.values()), tmp_path)
    for (expected, _), (code, heavy) in zip(cases.items(), results, strict=True):
        assert code == 2, expected
        assert heavy == [], (expected, heavy)
    for expected in cases:
        assert expected in err, (expected, err)
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_errors_that_need_only_torch_load_no_data_models_or_plots(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    (tmp_path / "c.yaml").write_text(CONFIG)
    cases = {
        "'cuda' asked for, but no CUDA device": ["--set", "trainer.device=cuda"],
        "dp (DataParallel) needs CUDA": ["--set", "trainer.strategy=dp"],
        "amp (fp16 autocast + loss scaling) needs CUDA": ["--set", "trainer.precision=amp"],
    }
    results, err = probe([["train", "c.yaml", *args] for args in cases.values()], tmp_path)
    for expected, (code, heavy) in zip(cases, results, strict=True):
        assert code == 2 and expected in err, (expected, err)
        assert heavy == ["torch"], (expected, heavy)  # not torchvision, sklearn, matplotlib
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_ctrl_c_during_start_up_is_one_line_and_130(tmp_path):
    (tmp_path / "c.yaml").write_text(CONFIG + "trainer: {epochs: 200}\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    seen = set()
    for i, delay in enumerate((0.3, 0.6, 1.0, 2.0, 3.5, 6.0)):  # after Python starts
        run_dir = tmp_path / f"run{i}"
        cmd = [sys.executable, "-m", "mlcore", "train", "c.yaml", "--run-dir", str(run_dir)]
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
        assert "Traceback" not in out + err, (delay, out, err)
        summary = run_dir / "summary.json"
        if proc.returncode == 0 or (summary.is_file() and '"completed"' in summary.read_text()):
            continue  # finished before the signal (or it came while the summary printed)
        # 130, or death by SIGINT (-2), which a shell also shows as 130: CPython ends that
        # way once a KeyboardInterrupt has left an exec'd string (a dataclass's generated
        # __init__ being defined), even when the program then calls sys.exit(130)
        assert proc.returncode in (130, -signal.SIGINT), (delay, proc.returncode, out, err)
        last = out.strip().splitlines()[-1]
        assert last.startswith("interrupted"), (delay, out, err)
        if "nothing written" in last:
            seen.add("before")
            assert not run_dir.exists() and not list(tmp_path.glob(".creating-*"))
        elif "resume with" in last:
            seen.add("after")
            assert (run_dir / "checkpoints" / "last.pt").is_file()
        else:
            assert "holds no checkpoint" in last and not (run_dir / "checkpoints").exists()
    assert "before" in seen, seen  # the short delays interrupt start-up itself


def test_ctrl_c_inside_a_weakref_callback_is_not_lost(tmp_path):
    """Python cannot raise out of a weakref callback or finalizer: it prints "Exception
    ignored in ..." and carries on. A Ctrl-C landing there (seen while CUDA loaded on a GPU
    machine) must still stop the command, without a traceback."""
    script = tmp_path / "lands_in_callback.py"
    script.write_text(
        "import signal, time, weakref\n"
        "from mlcore import interrupts\n"
        "interrupts.catch_sigint()\n"
        "class A: pass\n"
        "a = A()\n"
        "def callback(_):\n"
        "    signal.raise_signal(signal.SIGINT)  # the handler raises here, in the callback\n"
        "ref = weakref.ref(a, callback)\n"
        "try:\n"
        "    del a\n"
        "    time.sleep(30)\n"
        "    print('not interrupted')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.strip() == "interrupted" and done.stderr == "", (done.stdout, done.stderr)
    assert time.perf_counter() - t0 < 20  # the sleep was cut short, not waited out
