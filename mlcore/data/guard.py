"""Contamination guard: count validation/test samples whose features also occur in training.

A sample is identified by a hash of the exact bytes of its raw (not yet normalized) feature
tensor. Exact hashing catches copies only: a near-duplicate (one pixel changed, a resized or
re-encoded image, -0.0 against 0.0, float rounding) hashes differently and is missed; finding
those needs a similarity search, which this guard does not attempt. Labels play no part: the
same features under another label are still a leak of the input.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import Tensor

from mlcore.data.source import Split, TensorSplit


def row_digests(x: Tensor) -> list[bytes]:
    """A 16-byte blake2b digest of each sample's bytes; x is [N, ...] (one sample per row)."""
    n = int(x.shape[0])
    if n == 0:
        return []
    rows = np.ascontiguousarray(x.detach().cpu().numpy()).reshape(n, -1).view(np.uint8)
    width = rows.shape[1]
    view = memoryview(rows.reshape(-1))  # slicing a memoryview copies nothing
    return [
        hashlib.blake2b(view[i * width : (i + 1) * width], digest_size=16).digest()
        for i in range(n)
    ]


def split_digests(split: Split) -> list[bytes]:
    """Digests of a split's features; a lazy split decodes each sample once."""
    if isinstance(split, TensorSplit):
        return row_digests(split.x)
    return [row_digests(split[i][0].unsqueeze(0))[0] for i in range(len(split))]


def find_duplicates(train_x: Tensor, other_x: Tensor) -> Tensor:
    """Bool mask [len(other_x)]: True where that sample's exact bytes occur in train_x."""
    seen = set(row_digests(train_x))
    return torch.tensor([d in seen for d in row_digests(other_x)], dtype=torch.bool)


def _mask(seen: set[bytes], split: Split) -> Tensor:
    return torch.tensor([d in seen for d in split_digests(split)], dtype=torch.bool)


def guard(
    train: Split, val: Split, test: Split, dedupe: bool
) -> tuple[Split, Split, dict[str, int | bool]]:
    """(val, test, counts): how many val/test samples occur in train; with `dedupe` they are
    dropped from val and test (train is kept whole, so the model sees the same data)."""
    seen = set(split_digests(train))
    val_dup, test_dup = _mask(seen, val), _mask(seen, test)
    counts: dict[str, int | bool] = {
        "val_in_train": int(val_dup.sum()),
        "test_in_train": int(test_dup.sum()),
        "dropped": bool(dedupe),
    }
    if dedupe:
        val, test = val.subset(~val_dup), test.subset(~test_dup)
    return val, test, counts
