"""Level of detail: merging sub-pixel events keeps every visible gap and every total; depth from nesting."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from workbench.render.lod import Blocks, nest, reduce_events

Ints = npt.NDArray[np.int64]


def _arrays(*pairs: tuple[int, int]) -> tuple[Ints, Ints]:
    return np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64)


def test_known_gaps_are_kept_and_sub_pixel_runs_merge() -> None:
    start, end = _arrays((0, 10), (12, 20), (100, 150), (150, 160), (400, 401))
    blocks = reduce_events(start, end, pixel_ns=50)
    assert blocks.start_ns.tolist() == [0, 100, 150, 400]
    assert blocks.end_ns.tolist() == [20, 150, 160, 401]
    assert blocks.count.tolist() == [2, 1, 1, 1]
    assert blocks.busy_ns.tolist() == [18, 50, 10, 1]
    # The first block's longest member names it in the hover.
    assert blocks.first.tolist() == [0, 2, 3, 4]


def test_empty_input_gives_no_blocks() -> None:
    blocks = reduce_events(np.zeros(0, np.int64), np.zeros(0, np.int64), pixel_ns=10)
    assert len(blocks) == 0


def test_rows_never_merge_with_each_other() -> None:
    start, end = _arrays((0, 1), (1, 2), (0, 1), (1, 2))
    blocks = reduce_events(start, end, pixel_ns=100, row=np.array([0, 0, 1, 1], np.int64))
    assert blocks.row.tolist() == [0, 1]
    assert blocks.count.tolist() == [2, 2]


def _random_row_trace(rng: np.random.Generator, n: int, rows: int, overlap: bool) -> tuple[Ints, Ints, Ints]:
    # Durations and gaps spread over decades, so a pixel falls among them at every scale.
    duration = (10 ** rng.uniform(0, 5, n)).astype(np.int64)
    gap = (10 ** rng.uniform(0, 5, n)).astype(np.int64) * rng.integers(0, 2, n)
    if overlap:
        gap -= (
            (rng.random(n) < 0.05) * duration // 2
        )  # clock rounding: some events start before the last ends
    row = np.sort(rng.integers(0, rows, n)).astype(np.int64)
    start = np.empty(n, np.int64)
    for r in range(rows):
        members = np.flatnonzero(row == r)
        steps = duration[members] + gap[members]
        start[members] = np.concatenate(([0], np.cumsum(steps)[:-1])) if members.size else []
    return start, start + duration, row


def _assert_invariants(start: Ints, end: Ints, row: Ints, pixel: float, blocks: Blocks) -> None:
    n = start.size
    assert int(blocks.count.sum()) == n
    assert int(blocks.busy_ns.sum()) == int((end - start).sum())
    heads = np.concatenate(([0], np.cumsum(blocks.count)[:-1]))
    assert (blocks.row == row[heads]).all()
    # Blocks on one row never overlap.
    same_row = blocks.row[1:] == blocks.row[:-1]
    assert (blocks.start_ns[1:][same_row] >= blocks.end_ns[:-1][same_row]).all()
    # Every gap of a pixel or more between original events is still a gap between blocks.
    reach = np.concatenate([np.maximum.accumulate(end[row == r]) for r in np.unique(row)])
    visible_gap = (row[1:] == row[:-1]) & (start[1:] - reach[:-1] >= pixel)
    is_head = np.zeros(n, bool)
    is_head[heads] = True
    assert is_head[1:][visible_gap].all()
    # A block spans its members, and `first` is its longest member.
    block_of = np.repeat(np.arange(len(blocks)), blocks.count)
    assert (start >= blocks.start_ns[block_of]).all() and (end <= blocks.end_ns[block_of]).all()
    longest = np.maximum.reduceat(end - start, heads)
    assert ((end - start)[blocks.first] == longest).all()
    assert (block_of[blocks.first] == np.arange(len(blocks))).all()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("overlap", [False, True])
def test_invariants_hold_on_random_traces(seed: int, overlap: bool) -> None:
    rng = np.random.default_rng(seed)
    start, end, row = _random_row_trace(rng, 5_000, rows=3, overlap=overlap)
    for pixel in (1.0, 37.0, 1e3, 4e4, 1e7):
        _assert_invariants(start, end, row, pixel, reduce_events(start, end, pixel, row))


def test_invariants_hold_on_a_large_trace() -> None:
    rng = np.random.default_rng(42)
    start, end, row = _random_row_trace(rng, 200_000, rows=4, overlap=False)
    pixel = float(end.max()) / 1200
    blocks = reduce_events(start, end, pixel, row)
    _assert_invariants(start, end, row, pixel, blocks)
    # About one block a pixel survives: a few thousand per row, not 200k.
    assert len(blocks) < 4 * 3 * 1200


def test_an_isolated_event_a_pixel_long_stays_as_it_is() -> None:
    start, end = _arrays((0, 1), (2, 3), (100, 160), (300, 301))
    blocks = reduce_events(start, end, pixel_ns=50)
    assert (blocks.start_ns[1], blocks.end_ns[1], blocks.count[1]) == (100, 160, 1)


def _walk(start: Ints, end: Ints) -> tuple[list[int], list[int]]:
    """The reference: one stack walk over events sorted by (start, -end), depth and parent per input."""
    order = sorted(range(start.size), key=lambda i: (int(start[i]), -int(end[i]), i))
    depth, parent = [0] * start.size, [-1] * start.size
    stack: list[int] = []
    for i in order:
        while stack and end[stack[-1]] <= start[i]:
            stack.pop()
        depth[i] = len(stack)
        parent[i] = stack[-1] if stack else -1
        stack.append(i)
    return depth, parent


def _nested_trace(rng: np.random.Generator, n: int) -> tuple[Ints, Ints]:
    starts: list[int] = []
    ends: list[int] = []

    def fill(lo: int, hi: int, level: int) -> None:
        t = lo
        while t < hi and len(starts) < n:
            s = t + int(rng.integers(0, 3))
            e = min(hi, s + int(rng.integers(0, max(1, (hi - s) // 2 + 1))))
            if s > hi:
                return
            starts.append(s)
            ends.append(e)
            if level < 6 and e - s > 4:
                fill(s, e, level + 1)
            t = e + int(rng.integers(0, 3))

    fill(0, 10**7, 0)
    perm = rng.permutation(len(starts))
    return np.array(starts, np.int64)[perm], np.array(ends, np.int64)[perm]


@pytest.mark.parametrize("seed", range(8))
def test_depth_matches_a_stack_walk_on_nested_ops(seed: int) -> None:
    start, end = _nested_trace(np.random.default_rng(seed), 3_000)
    nesting = nest(start, end)
    depth, parent = _walk(start, end)
    assert nesting.depth.tolist() == depth
    assert nesting.parent.tolist() == parent


def test_zero_length_and_identical_ops_nest_like_the_stack_walk() -> None:
    start, end = _arrays((0, 100), (10, 10), (10, 50), (10, 50), (50, 50), (50, 60), (100, 100))
    nesting = nest(start, end)
    depth, parent = _walk(start, end)
    # A zero-length op sorts after the longer ops starting with it, so it sits inside them.
    assert nesting.depth.tolist() == depth == [0, 3, 1, 2, 2, 1, 0]
    assert nesting.parent.tolist() == parent == [-1, 3, 0, 2, 5, 0, -1]


@pytest.mark.parametrize("seed", range(4))
def test_overlapping_ops_still_get_rows_without_overlap(seed: int) -> None:
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 10_000, 2_000).astype(np.int64)
    end = start + rng.integers(0, 500, 2_000)
    nesting = nest(start, end)
    assert nesting.depth.tolist() == _walk(start, end)[0]
    for d in np.unique(nesting.depth):
        on_row = np.flatnonzero(nesting.depth == d)
        on_row = on_row[np.argsort(start[on_row], kind="stable")]
        assert (start[on_row][1:] >= end[on_row][:-1]).all()


def test_a_million_nested_ops_then_rows_reduced() -> None:
    """Nesting and reduction at the scale of a long traced cell (timings are measured, not asserted)."""
    groups = 250_000
    t = np.arange(groups, dtype=np.int64) * 40_000
    start = np.concatenate([t, t + 1_000, t + 3_000, t + 20_000])
    end = np.concatenate([t + 15_000, t + 12_000, t + 8_000, t + 30_000])
    nesting = nest(start, end)
    assert np.bincount(nesting.depth).tolist() == [2 * groups, groups, groups]
    order = np.lexsort((start, nesting.depth))
    blocks = reduce_events(start[order], end[order], float(end.max()) / 1200, nesting.depth[order])
    assert int(blocks.count.sum()) == start.size
