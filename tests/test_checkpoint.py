"""The checkpoint file itself: the RNG state in both its formats."""

from __future__ import annotations

import io
import random

import torch

from mlcore.training.checkpoint import checkpoint_bytes, rng_state, set_rng_state


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
