"""Checkpoints: a dict of tensors and plain values, written atomically, read weights_only.

Atomic: write to a temporary file in the same directory, fsync, then os.replace, so a kill
at any moment leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from mlcore.atomic import atomic_link, atomic_write_bytes
from mlcore.errors import MlcoreError


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    write_checkpoint(path, checkpoint_bytes(state))


def checkpoint_bytes(state: dict[str, Any]) -> bytes:
    """The file's content, serialized now: a copy that later in-place changes to the tensors
    (the next training step) cannot reach, so it can be written out on another thread."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def write_checkpoint(
    path: Path, data: bytes | Callable[[BinaryIO], Any], same_as: Path | None = None
) -> None:
    """`data`: the file's bytes, or a function that writes them to a file object (the
    checkpoint process calls torch.save into the file itself).
    `same_as`: a checkpoint file just written with the same `data` (last.pt, when best.pt
    follows it). `path` becomes a hard link to it: one write and one fsync instead of two, on
    the thread whose disk and CPU work slows the training beside it. Safe because checkpoint
    files are only ever replaced, never changed in place: the next last.pt is a new file and
    leaves the linked best.pt as it was. Where the filesystem has no hard links, the bytes
    are written."""
    if same_as is not None:
        try:
            atomic_link(same_as, path)
            return
        except OSError:  # FAT, some network and FUSE filesystems
            pass
    atomic_write_bytes(path, data if callable(data) else lambda f: f.write(data))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load with weights_only=True: nothing in the file is ever executed."""
    if not path.is_file():
        raise MlcoreError(f"{path}: no such checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file
        # torch's own message suggests weights_only=False, which would run code from the
        # file: say what is wrong without passing that advice on.
        kind = type(err).__name__
        raise MlcoreError(
            f"{path}: not a readable mlcore checkpoint (truncated, corrupt or not written by "
            f"mlcore: {kind})"
        ) from None


def load_run_checkpoint(path: Path) -> dict[str, Any]:
    """A run's last.pt or best.pt, with the keys that resume and eval read."""
    state = load_checkpoint(path)
    keys = ["model", "optimizer", "epoch", "step", "data"]
    missing = [k for k in keys if k not in state] if isinstance(state, dict) else keys
    if missing:  # a file torch reads that mlcore did not write (e.g. a bare state_dict)
        raise MlcoreError(f"{path}: not an mlcore checkpoint (no {', '.join(missing)})")
    return state


def rng_state() -> dict[str, Any]:
    """Every RNG that training draws from, as tensors and plain values.

    Python's Mersenne Twister state (624 words and a position) is one int64 tensor, not a
    tuple of 625 ints: torch.save pickles each int as an object of its own, and they were
    40% of the objects in a digits-MLP checkpoint, serialized on the training thread."""
    version, internal, gauss = random.getstate()
    words = torch.from_numpy(np.array(internal, dtype=np.int64))  # a third of torch.tensor's time
    python = (version, words, gauss)
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": python}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    if isinstance(internal, torch.Tensor):  # older checkpoints hold a tuple of ints
        internal = internal.tolist()
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
