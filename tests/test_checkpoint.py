"""The checkpoint file itself: the RNG state in both its formats, best.pt linked to last.pt."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest
import torch

from mlcore.training.checkpoint import checkpoint_bytes, rng_state, set_rng_state, write_checkpoint


def draws() -> list[float]:
    return [random.random() for _ in range(5)] + torch.rand(5).tolist()


def test_rng_state_survives_a_weights_only_round_trip():
    random.seed(7)
    torch.manual_seed(7)
    random.random()  # somewhere inside the Mersenne Twister's 624 words, not at a seed
    data = checkpoint_bytes({"rng": rng_state()})
    expected = draws()
    state = torch.load(io.BytesIO(data), weights_only=True)["rng"]
    assert isinstance(state["python"][1], torch.Tensor)  # one tensor, not 625 pickled ints
    set_rng_state(state)
    assert draws() == expected


def test_an_old_checkpoint_with_the_python_state_as_ints_still_loads():
    random.seed(11)
    torch.manual_seed(11)
    old = {"torch": torch.get_rng_state(), "python": random.getstate()}  # the format before
    state = torch.load(io.BytesIO(checkpoint_bytes({"rng": old})), weights_only=True)["rng"]
    expected = draws()
    set_rng_state(state)
    assert draws() == expected


def test_best_is_a_link_to_last_and_stays_when_last_is_replaced(tmp_path):
    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    write_checkpoint(last, b"epoch 1")
    write_checkpoint(best, b"epoch 1", same_as=last)
    assert os.path.samefile(last, best)
    write_checkpoint(last, b"epoch 2")  # the next epoch did not improve: last.pt only
    assert (last.read_bytes(), best.read_bytes()) == (b"epoch 2", b"epoch 1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]


def test_without_hard_links_best_is_written(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")  # FAT, some FUSE filesystems

    monkeypatch.setattr(os, "link", no_links)
    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    write_checkpoint(last, b"epoch 1")
    write_checkpoint(best, b"epoch 1", same_as=last)
    assert best.read_bytes() == b"epoch 1" and not os.path.samefile(last, best)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_the_umask_is_read_without_being_changed(monkeypatch):
    """Setting the umask to read it would, for that moment, let a file that another thread
    (the checkpoint writer) creates come out world-writable."""
    from mlcore.atomic import current_umask

    old = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", lambda mask: pytest.fail("os.umask called"))
        assert current_umask() == 0o027
    finally:
        monkeypatch.undo()
        os.umask(old)
