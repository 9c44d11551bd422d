"""Level of detail for op timelines: nesting depth of host ops, and merging events narrower than a pixel.

A million kernels cannot go to the browser one quad each; at any zoom only about one block per pixel can
be seen. `reduce_events` merges what a pixel cannot separate and keeps what it can: every gap of a pixel
or more survives, and so does every event a pixel long, so the picture is the one the full trace would
draw. Busy time is summed, never re-measured from the merged extent, so totals stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
NO_PARENT = -1


@dataclass(frozen=True)
class Blocks:
    """Merged events, one entry a block; `first` indexes the input arrays (the member that lasted longest)."""

    start_ns: IntArray
    end_ns: IntArray
    count: IntArray
    busy_ns: IntArray
    first: IntArray
    row: IntArray

    def __len__(self) -> int:
        return int(self.start_ns.size)


def reduce_events(
    start_ns: IntArray, end_ns: IntArray, pixel_ns: float, row: IntArray | None = None
) -> Blocks:
    """Merge runs of sub-pixel events with sub-pixel gaps, per row.

    Events must be sorted by (row, start). Within a row they may touch; an overlap (clock rounding in a
    trace) is tolerated: it is measured against the furthest end so far, so blocks never overlap.
    """
    n = int(start_ns.size)
    rows = np.zeros(n, np.int64) if row is None else np.asarray(row, np.int64)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return Blocks(empty, empty, empty, empty, empty, empty)
    start = np.asarray(start_ns, np.int64)
    end = np.maximum(np.asarray(end_ns, np.int64), start)
    duration = end - start
    reach = _reach_per_row(start, end, rows)
    gap = start[1:] - reach[:-1]
    long = duration >= pixel_ns
    boundary = (rows[1:] != rows[:-1]) | (gap >= pixel_ns) | ((long[:-1] | long[1:]) & (gap >= 0))
    heads = np.concatenate(([0], np.flatnonzero(boundary) + 1))
    tails = np.concatenate((heads[1:] - 1, [n - 1]))
    return Blocks(
        start_ns=start[heads],
        end_ns=reach[tails],
        count=np.diff(np.append(heads, n)).astype(np.int64),
        busy_ns=np.add.reduceat(duration, heads),
        first=_longest_member(duration, heads),
        row=rows[heads],
    )


def _reach_per_row(start: IntArray, end: IntArray, rows: IntArray) -> IntArray:
    """The furthest end so far within each row: a running maximum that must not leak across rows."""
    origin = int(start.min())
    span = int(end.max()) - origin + 1
    # Shifting each row past the previous one lets one running maximum serve every row at once.
    shift = (rows - rows.min()) * span - origin
    reach: IntArray = np.maximum.accumulate(end + shift) - shift
    return reach


def _longest_member(duration: IntArray, heads: IntArray) -> IntArray:
    n = duration.size
    counts = np.diff(np.append(heads, n))
    longest = np.maximum.reduceat(duration, heads)
    hits = np.flatnonzero(duration == np.repeat(longest, counts))
    block_of_hit = np.repeat(np.arange(heads.size), counts)[hits]
    # `hits` is sorted, so the first hit of each block is where its block number changes.
    keep = np.concatenate(([True], block_of_hit[1:] != block_of_hit[:-1]))
    return hits[keep].astype(np.int64)


@dataclass(frozen=True)
class Nesting:
    """Depth of each event (0 = outermost) and the index of the event that encloses it, or NO_PARENT."""

    depth: IntArray
    parent: IntArray


def nest(start_ns: IntArray, end_ns: IntArray) -> Nesting:
    """Depths of host ops on one thread from a stack walk over events sorted by (start, -end).

    Inputs in any order; results are per input index. Properly nested ops (the usual case) take a
    vectorised path; a trace whose ops overlap without nesting falls back to walking the stack.
    """
    start = np.asarray(start_ns, np.int64)
    end = np.maximum(np.asarray(end_ns, np.int64), start)
    n = int(start.size)
    if n == 0:
        return Nesting(np.zeros(0, np.int64), np.zeros(0, np.int64))
    order = np.lexsort((-end, start))
    s, e = start[order], end[order]
    depth, parent = _nest_sorted_laminar(s, e)
    if not _is_valid_nesting(s, e, depth, parent):
        depth, parent = _nest_sorted_walk(s, e)
    out_depth = np.empty(n, np.int64)
    out_parent = np.empty(n, np.int64)
    out_depth[order] = depth
    out_parent[order] = np.where(parent >= 0, order[np.maximum(parent, 0)], NO_PARENT)
    return Nesting(out_depth, out_parent)


def _nest_sorted_laminar(s: IntArray, e: IntArray) -> tuple[IntArray, IntArray]:
    """Depth = ops open at an op's start; exact when ops nest (none starts inside another and outlives it)."""
    n = s.size
    positive = e > s
    open_ends = np.sort(e[positive])
    # Ops open at an op's start: those with a length that come before it in walk order, minus those
    # already ended by its start. A zero-length op never encloses another (the walk pops it at the next
    # op), so it never counts as open.
    before: IntArray = np.cumsum(positive, dtype=np.int64) - positive
    depth = before - np.searchsorted(open_ends, s, side="right")
    # The parent is the last op before this one in walk order that sits one level up.
    position = np.arange(n, dtype=np.int64)
    keys = depth * n + position
    by_key = np.argsort(keys, kind="stable")
    sorted_keys = keys[by_key]
    candidate = np.searchsorted(sorted_keys, (depth - 1) * n + position, side="left") - 1
    found = (depth > 0) & (candidate >= 0)
    parent = np.where(found, by_key[np.maximum(candidate, 0)], NO_PARENT)
    return depth.astype(np.int64), parent.astype(np.int64)


def _is_valid_nesting(s: IntArray, e: IntArray, depth: IntArray, parent: IntArray) -> bool:
    if depth.size and int(depth.min()) < 0:
        return False
    child = np.flatnonzero(depth > 0)
    p = parent[child]
    if (p < 0).any() or (depth[p] != depth[child] - 1).any():
        return False
    if (s[p] > s[child]).any() or (e[p] < e[child]).any():
        return False
    # Ops on one depth row must not overlap, or the row would draw one over another.
    by_row = np.lexsort((s, depth))
    same_row = depth[by_row][1:] == depth[by_row][:-1]
    return not bool((same_row & (s[by_row][1:] < e[by_row][:-1])).any())


def _nest_sorted_walk(s: IntArray, e: IntArray) -> tuple[IntArray, IntArray]:
    starts, ends = s.tolist(), e.tolist()
    depth = [0] * len(starts)
    parent = [NO_PARENT] * len(starts)
    stack_ends: list[int] = []
    stack_index: list[int] = []
    for i, start in enumerate(starts):
        while stack_ends and stack_ends[-1] <= start:
            stack_ends.pop()
            stack_index.pop()
        depth[i] = len(stack_ends)
        if stack_index:
            parent[i] = stack_index[-1]
        stack_ends.append(ends[i])
        stack_index.append(i)
    return np.array(depth, np.int64), np.array(parent, np.int64)
