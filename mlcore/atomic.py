"""Atomic file writes: a temporary file in the same directory, fsync, then rename, so a
reader (or a kill at any moment) sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, write: Any) -> None:
    """Call `write(fileobj)` into a temp file beside `path`, fsync it, rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; files follow the umask
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_link(source: Path, path: Path) -> None:
    """Make `path` a hard link to `source` (same directory), replacing `path` atomically:
    linked under a temporary name, then renamed over it. OSError where links are not
    supported."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")  # as mkstemp's names
    os.link(source, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process umask, read without changing it where the kernel says it (Linux
    /proc/self/status): setting it to read it back, as os.umask must, would for that moment
    give a file that another thread (the checkpoint writer) creates mode 0666."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:  # elsewhere: two of these at once could leave the umask at 0
        mask = os.umask(0)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode("utf-8")))
