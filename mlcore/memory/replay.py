"""Replay a traced timeline: live bytes as tensors see them, and what the CUDA caching
allocator reports (allocated, reserved), each with the breakdown at its peak."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mlcore.memory.allocator import CachingAllocator
from mlcore.memory.tracker import CATEGORIES, Event


@dataclass(frozen=True)
class Peak:
    allocated: int  # peak of the sum of allocated blocks (torch.cuda.max_memory_allocated)
    reserved: int  # peak of the sum of segments (torch.cuda.max_memory_reserved)
    breakdown: dict[str, int]  # by category at the allocated peak; sums to `allocated`
    index: int = 0  # the event at which the allocated peak is reached
    final: dict[str, int] | None = None  # by category after the last event


def live_peak(events: Iterable[Event], skip: set[int] = frozenset()) -> int:
    """Peak of live tensor bytes, unrounded (what the same hook counts on real tensors)."""
    live: dict[int, int] = {}
    current = peak = 0
    for e in events:
        if e.key in skip or e.kind == "retag":
            continue
        current += e.nbytes - live.get(e.key, 0) if e.kind != "free" else -live[e.key]
        if e.kind == "free":
            del live[e.key]
        else:
            live[e.key] = e.nbytes
        peak = max(peak, current)
    return peak


def replay(events: Iterable[Event], skip: set[int] = frozenset()) -> Peak:
    """Allocate and free every storage through the allocator model, in trace order."""
    allocator = CachingAllocator()
    blocks: dict[int, tuple[object, str]] = {}
    by_category = dict.fromkeys((*CATEGORIES, "workspace"), 0)  # workspace: cuBLAS's
    best, index = dict(by_category), 0
    for i, e in enumerate(events):
        if e.key in skip:
            continue
        if e.kind in ("free", "resize") and e.key in blocks:
            block, category = blocks.pop(e.key)
            by_category[category] -= block.size
            allocator.free(block)
        if e.kind in ("alloc", "resize") and e.nbytes > 0:
            block = allocator.malloc(e.nbytes)
            blocks[e.key] = (block, e.category)
            by_category[e.category] += block.size
        elif e.kind == "retag" and e.key in blocks:
            block, old = blocks[e.key]
            by_category[old] -= block.size
            by_category[e.category] += block.size
            blocks[e.key] = (block, e.category)
        if allocator.allocated == allocator.peak_allocated and e.kind != "free":
            best, index = dict(by_category), i
    return Peak(allocator.peak_allocated, allocator.peak_reserved, best, index, by_category)
