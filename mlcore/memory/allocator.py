"""A model of PyTorch's CUDA caching allocator: from the bytes tensors ask for to what
`torch.cuda.max_memory_allocated` and `max_memory_reserved` report.

The rules are those of c10/cuda/CUDACachingAllocator.cpp (default settings: no
expandable segments, no max_split_size, no garbage-collection threshold):
- every request is rounded up to a multiple of 512 bytes (kMinBlockSize), 1 B included;
- requests up to 1 MiB (kSmallSize) come from a small pool of 2 MiB segments (kSmallBuffer);
  larger ones from a large pool whose new segments are 20 MiB (kLargeBuffer) for requests
  under 10 MiB (kMinLargeAlloc), else the request rounded up to 2 MiB (kRoundLarge);
- a request takes the smallest cached free block that fits (best fit, then lowest address),
  split when the rest is >= 512 B (small pool) or > 1 MiB (large pool); an unsplit block
  counts whole as allocated;
- a freed block returns to its pool and merges with free neighbours; segments are kept
  (reserved) until `empty_cache()` or an out-of-memory retry, so reserved only grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MIN_BLOCK = 512
SMALL_SIZE = 1 << 20  # 1 MiB
SMALL_BUFFER = 2 << 20  # 2 MiB
LARGE_BUFFER = 20 << 20  # 20 MiB
MIN_LARGE_ALLOC = 10 << 20  # 10 MiB
ROUND_LARGE = 2 << 20  # 2 MiB


def round_size(nbytes: int) -> int:
    """Bytes the allocator hands out for a request of `nbytes` (before any block reuse)."""
    return MIN_BLOCK * max(1, math.ceil(nbytes / MIN_BLOCK))


def segment_size(rounded: int) -> int:
    """Bytes of the new segment (one cudaMalloc) that a rounded request opens."""
    if rounded <= SMALL_SIZE:
        return SMALL_BUFFER
    if rounded < MIN_LARGE_ALLOC:
        return LARGE_BUFFER
    return ROUND_LARGE * math.ceil(rounded / ROUND_LARGE)


@dataclass
class _Block:
    segment: int
    offset: int
    size: int
    small: bool  # from the small pool (a 2 MiB segment)
    free: bool = True
    prev: _Block | None = field(default=None, repr=False)  # neighbours in the segment
    next: _Block | None = field(default=None, repr=False)

    def order(self) -> tuple[int, int, int]:
        return (self.size, self.segment, self.offset)  # best fit, then lowest "address"


class CachingAllocator:
    """Replays mallocs and frees; tracks allocated (sum of allocated block sizes) and
    reserved (sum of segment sizes) and their peaks, as the CUDA allocator's stats do."""

    def __init__(self) -> None:
        self.pools: dict[bool, list[_Block]] = {True: [], False: []}  # small? -> free blocks
        self.segments = 0
        self.allocated = self.reserved = 0
        self.peak_allocated = self.peak_reserved = 0

    def malloc(self, nbytes: int) -> _Block:
        size = round_size(nbytes)
        small = size <= SMALL_SIZE
        pool = self.pools[small]
        fits = [b for b in pool if b.size >= size]
        if fits:
            block = min(fits, key=_Block.order)
            pool.remove(block)
        else:
            block = _Block(self.segments, 0, segment_size(size), small)
            self.segments += 1
            self.reserved += block.size
            self.peak_reserved = max(self.peak_reserved, self.reserved)
        rest = block.size - size
        if (small and rest >= MIN_BLOCK) or (not small and rest > SMALL_SIZE):
            tail = _Block(
                block.segment, block.offset + size, rest, small, prev=block, next=block.next
            )
            if block.next is not None:
                block.next.prev = tail
            block.next, block.size = tail, size
            pool.append(tail)
        block.free = False
        self.allocated += block.size
        self.peak_allocated = max(self.peak_allocated, self.allocated)
        return block

    def free(self, block: _Block) -> None:
        self.allocated -= block.size
        block.free = True
        pool = self.pools[block.small]
        for neighbour in (block.prev, block.next):
            if neighbour is not None and neighbour.free:
                pool.remove(neighbour)
                self._merge(block, neighbour)
        pool.append(block)

    @staticmethod
    def _merge(block: _Block, other: _Block) -> None:
        if other is block.prev:
            block.offset, block.prev = other.offset, other.prev
            if other.prev is not None:
                other.prev.next = block
        else:
            block.next = other.next
            if other.next is not None:
                other.next.prev = block
        block.size += other.size
