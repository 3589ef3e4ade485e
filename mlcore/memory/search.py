"""The largest batch that fits.

Peak memory is flat in the batch while a batch-independent phase dominates (a big model's
optimizer step), then grows almost linearly (activations). So: grow the batch 8x while
the curve is flat, follow the line through the last two fitting batches once it rises,
and once a batch does not fit, interpolate between the two sides (regula falsi) until
they are one `tolerance` apart. Every guess is a real trace, so the allocator's
staircase is followed, not assumed away.
"""

from __future__ import annotations

from collections.abc import Callable

Need = Callable[[int], int]  # batch size -> bytes the device needs (traced)
MAX_TRACES = 16
GROWTH = 8  # while the curve is flat


def tolerance(batch: int) -> int:
    """Search precision: exact below 200, else within 0.5%."""
    return max(1, batch // 200)


def largest_batch(
    need: Need, capacity: int, start: int, cap: int | None, least: int = 1
) -> tuple[int, int]:
    """(largest batch b with need(b) <= capacity, or 0; bytes missing at the smallest
    batch, or 0). `least` is the smallest batch the model takes (batchnorm: 2); `cap`
    bounds the search: a batch larger than the training split is never taken."""
    known: dict[int, int] = {least: need(least)}
    if known[least] > capacity:
        return 0, known[least] - capacity
    limit = max(cap if cap is not None else 1 << 40, least)
    lo, hi = least, None  # lo fits; hi, once known, does not
    guess = min(max(least + 1, start), limit)
    while len(known) < MAX_TRACES and guess != lo:
        known[guess] = need(guess)
        if known[guess] <= capacity:
            lo = guess
        else:
            hi = guess
        if lo == limit or (hi is not None and hi - lo <= tolerance(lo)):
            return lo, 0
        guess = _next_guess(known, capacity, lo, hi, limit)
    while hi is not None and hi - lo > tolerance(lo):  # rarely needed: bisect what is left
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if need(mid) <= capacity else (lo, mid)
    return lo, 0


def _next_guess(known: dict[int, int], capacity: int, lo: int, hi: int | None, limit: int) -> int:
    if hi is not None:  # bracketed: interpolate, at least one tolerance inside each side
        n_lo, n_hi = known[lo], known[hi]
        guess = lo + (capacity - n_lo) * (hi - lo) // max(n_hi - n_lo, 1)
        return min(max(guess, lo + tolerance(lo)), hi - tolerance(hi), hi - 1)
    fitting = sorted(b for b, n in known.items() if n <= capacity and b <= lo)
    a = fitting[-2] if len(fitting) > 1 else lo
    slope = (known[lo] - known[a]) / (lo - a) if lo != a else 0.0
    reach = (capacity - known[lo]) / slope if slope > 0 else float("inf")
    if reach > (GROWTH - 1) * lo:  # flat so far: the line would overshoot wildly
        return min(lo * GROWTH, limit)
    return min(max(lo + int(reach), lo + 1), limit)
