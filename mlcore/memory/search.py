"""The largest batch that fits: a line through two traces gives the first guess, then
real traces bracket and bisect it, since the allocator turns the line into a staircase."""

from __future__ import annotations

from collections.abc import Callable

Need = Callable[[int], int]  # batch size -> bytes the device needs (traced)


def largest_batch(need: Need, capacity: int, start: int, cap: int | None) -> tuple[int, int]:
    """(largest batch b with need(b) <= capacity, or 0; bytes missing at batch 1, or 0).

    `cap` bounds the search: a batch larger than the training split is never taken.
    Precision: within 0.5% of the true largest batch (or exact below 200)."""
    need1 = need(1)
    if need1 > capacity:
        return 0, need1 - capacity
    limit = cap if cap is not None else 1 << 40
    b2 = min(max(2, start), limit)
    if b2 == 1:
        return 1, 0
    need2 = need(b2)
    if need2 > capacity:
        return _bisect(need, capacity, 1, b2), 0
    slope = (need2 - need1) / (b2 - 1)
    guess = limit if slope <= 0 else int(1 + (capacity - need1) / slope)
    guess = min(max(guess, b2), limit)
    lo, hi = _bracket(need, capacity, b2, guess, limit)
    if hi is None:
        return lo, 0
    return _bisect(need, capacity, lo, hi), 0


def _bracket(need: Need, capacity: int, lo: int, guess: int, limit: int) -> tuple[int, int | None]:
    """lo fits and hi does not (hi None: even `limit` fits)."""
    if need(guess) <= capacity:
        lo = guess
        while lo < limit:
            hi = min(limit, max(lo + 1, int(lo * 1.1)))
            if need(hi) > capacity:
                return lo, hi
            lo = hi
        return lo, None
    hi = guess
    while True:
        probe = max(lo, int(hi * 0.9))
        if probe == lo or need(probe) <= capacity:
            return probe, hi
        hi = probe


def _bisect(need: Need, capacity: int, lo: int, hi: int) -> int:
    """Largest b in [lo, hi) that fits, given lo fits and hi does not."""
    while hi - lo > max(1, lo // 200):
        mid = (lo + hi) // 2
        if need(mid) <= capacity:
            lo = mid
        else:
            hi = mid
    return lo
