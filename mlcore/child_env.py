"""The environment of the `python -m mlcore` processes mlcore starts (DDP ranks, sweep
trials): they must import the same mlcore as the parent.

`python -m` puts the current folder first on the import path, so a child started in a
folder that holds another `mlcore/` (a checkout, an old copy) would import that one while
the parent used the installed package: baffling errors ("unknown key"), printed by each
child. PYTHONSAFEPATH (Python 3.11+) leaves the current folder out, and the folder the
parent's mlcore came from goes first on PYTHONPATH (a parent that itself ran from a
checkout, uninstalled, keeps working)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def child_env(base: dict[str, str] | None = None) -> dict[str, str]:
    import site

    import mlcore

    env = dict(os.environ if base is None else base)
    env["PYTHONSAFEPATH"] = "1"
    home = str(Path(mlcore.__file__).resolve().parent.parent)
    installed = {str(Path(p).resolve()) for p in site.getsitepackages()}
    if home not in installed:  # a checkout or an editable install: its folder goes first
        # (site-packages itself is never put there: it would come before the standard
        # library, where a stray backport package could shadow a standard module)
        rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != home]
        env["PYTHONPATH"] = os.pathsep.join([home, *rest])
    return env


@contextlib.contextmanager
def children_environ(**extra: str) -> Iterator[None]:
    """os.environ as child_env() (and `extra`) while children are started by code that
    passes them this process's own environment (PyTorch's elastic launcher); restored after."""
    saved = dict(os.environ)
    os.environ.update(child_env(), **extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
