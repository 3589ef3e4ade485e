"""The run directory of DESIGN.md: config.yaml, metrics.csv, summary.json, checkpoints/,
plots/, train.log. Only this module knows the file names."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mlcore.atomic import atomic_write_text, current_umask
from mlcore.errors import MlcoreError


class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)

    config = property(lambda self: self.path / "config.yaml")
    metrics = property(lambda self: self.path / "metrics.csv")
    summary = property(lambda self: self.path / "summary.json")
    log = property(lambda self: self.path / "train.log")
    plots = property(lambda self: self.path / "plots")
    last = property(lambda self: self.path / "checkpoints" / "last.pt")
    best = property(lambda self: self.path / "checkpoints" / "best.pt")

    def checkpoint(self, which: str) -> Path:
        return self.best if which == "best" else self.last

    # -- summary.json ---------------------------------------------------------------
    def read_summary(self) -> dict[str, Any]:
        try:
            summary = json.loads(self.summary.read_text())
        except FileNotFoundError:
            raise MlcoreError(f"{self.path}: not a run directory (no summary.json)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise MlcoreError(f"{self.summary}: unreadable ({err})") from None
        if not isinstance(summary, dict):
            kind = type(summary).__name__
            raise MlcoreError(f"{self.summary}: not a run summary (a JSON {kind}, not an object)")
        return summary

    def update_summary(self, **fields: Any) -> dict[str, Any]:
        """Merge `fields` into summary.json; the file is rewritten (atomically, fsynced) only
        when the JSON of a field changes. The fields are compared, not the whole text: with
        indent, json.dumps runs in pure Python (~0.25 ms for a run's summary, each epoch on
        the checkpoint writer, holding the GIL the training thread needs)."""
        exists = self.summary.exists()
        summary = self.read_summary() if exists else {}
        changed = [
            k for k, v in fields.items() if k not in summary or _json(summary[k]) != _json(v)
        ]
        summary.update(fields)
        if changed or not exists:
            atomic_write_text(self.summary, json.dumps(summary, indent=2, default=_jsonable) + "\n")
        return summary

    # -- metrics.csv ----------------------------------------------------------------
    def append_metrics(self, row: dict[str, Any], columns: list[str]) -> None:
        new = not self.metrics.exists()
        with self.metrics.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({k: _fmt(row.get(k)) for k in columns})

    def read_metrics(self) -> list[dict[str, str]]:
        if not self.metrics.exists():
            return []
        with self.metrics.open(newline="") as f:
            return list(csv.DictReader(f))

    def truncate_metrics(self, epochs_completed: int) -> None:
        """Keep rows of epochs the checkpoint holds; a row written after the last checkpoint
        (a kill between the two writes) is dropped so resume never duplicates it."""
        rows = self.read_metrics()
        if not rows:
            return
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()))  # as append_metrics
        writer.writeheader()
        writer.writerows(r for r in rows if int(r["epoch"]) <= epochs_completed)
        atomic_write_text(self.metrics, out.getvalue())

    def log_line(self, text: str) -> None:
        with self.log.open("a") as f:
            f.write(text.rstrip("\n") + "\n")


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.8g}"
    return "" if value is None else value


def _json(value: Any) -> str:
    return json.dumps(value, default=_jsonable)  # compact: json's C encoder


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def free_run_path(root: Path, name: str) -> Path:
    """Where a new run named `name` would go now (the first free root/name/STAMP[-i])."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / name / stamp
    for target in [base] + [base.with_name(f"{stamp}-{i}") for i in range(1, 1000)]:
        if not target.exists():
            return target
    raise MlcoreError(f"{base.parent}: too many runs started in the same second")


def check_new_run_dir(exact: Path) -> None:
    """`--run-dir` must be new or an empty directory (no torch: checked before the imports)."""
    if exact.exists() and not exact.is_dir():
        raise MlcoreError(f"--run-dir {exact}: exists and is not a directory")
    if exact.exists() and any(exact.iterdir()):
        raise MlcoreError(f"--run-dir {exact}: already exists and is not empty")


def create_run_dir(root: Path, name: str, config_text: str, exact: Path | None = None) -> RunDir:
    """Create the run directory with config.yaml and summary.json already in it.

    The content is written into a hidden temporary directory first and renamed into place,
    so a run directory never exists half-made. Two runs started in the same second get
    `-1`, `-2`, ... suffixes instead of sharing a directory.
    """
    if exact is not None:
        check_new_run_dir(exact)
        targets = [exact]
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = root / name / stamp
        targets = [base] + [base.with_name(f"{stamp}-{i}") for i in range(1, 1000)]
    parent = targets[0].parent
    new_folders = [p for p in (parent, *parent.parents) if not p.exists()]  # deepest first
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MlcoreError(f"{parent}: cannot create the run directory ({err.strerror})") from None
    tmp = Path(tempfile.mkdtemp(prefix=".creating-", dir=parent))
    try:  # a Ctrl-C (or any error) here leaves no hidden half-made directory behind
        # checkpoints/ and plots/ appear with their first file: a run that fails in its
        # first epoch leaves no empty folders suggesting otherwise.
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; a run follows the umask
        (tmp / "config.yaml").write_text(config_text)
        (tmp / "summary.json").write_text(json.dumps(_provenance(), indent=2) + "\n")
        for target in targets:
            try:
                if target.exists() and target != exact:
                    continue
                if target.exists():  # an empty --run-dir
                    target.rmdir()
                os.rename(tmp, target)
                _CREATED.append(target)
                return RunDir(target)
            except OSError:
                continue
    except BaseException:
        _remove(tmp, new_folders)
        raise
    _remove(tmp, new_folders)
    raise MlcoreError(f"{parent}: could not find a free run directory name")


def _remove(tmp: Path, new_folders: list[Path]) -> None:
    """Undo a creation that did not finish: the temporary directory and the folders made
    for it (runs/<name>/), when nothing else has appeared in them since."""
    shutil.rmtree(tmp, ignore_errors=True)
    for folder in new_folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (another run) or already gone
            break


# Run directories this process created, newest last: how the CLI knows, after a Ctrl-C,
# whether anything was written.
_CREATED: list[Path] = []


def created_run_dirs() -> list[Path]:
    return list(_CREATED)


# A DDP rank that mlcore's launcher started records the user's command, not its own
# (`mlcore train CONFIG --run-dir DIR`, with the run directory the launcher chose).
COMMAND_ENV = "MLCORE_COMMAND"


def command_line() -> str:
    if os.environ.get(COMMAND_ENV):
        return os.environ[COMMAND_ENV]
    program = Path(sys.argv[0]).name
    if program == "__main__.py":  # `python -m mlcore` (a self-launched DDP rank, torchrun)
        program = "mlcore"
    return " ".join([program, *sys.argv[1:]])


def _provenance() -> dict[str, Any]:
    import torch

    import mlcore

    return {
        "status": "created",
        "command": command_line(),
        "mlcore_version": mlcore.__version__,
        "torch_version": torch.__version__,
        "git_commit": _git_commit(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
