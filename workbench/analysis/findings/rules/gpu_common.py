"""What the GPU rules share: the cell's window, the decode windows (LLM requests), and interval arithmetic.

Intervals are kept as two sorted arrays of disjoint blocks (starts, ends) in run-clock ns, so a
million-kernel trace is measured with numpy and never with a Python loop over events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.model.events import Span
from workbench.model.ops import GPU_WORK, OpTable
from workbench.model.run import Run

IntArray = npt.NDArray[np.int64]
Blocks = tuple[IntArray, IntArray]
# Host events that are the host doing work; user annotations wrap whole steps and would cover the idle gaps.
HOST_WORK = ("cpu_op", "python_function", "cuda_runtime", "cuda_driver")


@dataclass(frozen=True)
class Window:
    """A stretch of the run the GPU rules measure: an LLM request, or the whole cell when there is none."""

    start_ns: int
    end_ns: int
    span: Span | None = None

    @property
    def length_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 0)


def cell_window(run: Run) -> Window:
    start = run.metrics.get("cell_start_ms")
    end = run.metrics.get("cell_end_ms")
    if isinstance(start, int | float) and isinstance(end, int | float) and end > start:
        return Window(round(start * 1e6), round(end * 1e6))
    return Window(0, run.duration_ns)


def cell_ms(run: Run) -> float:
    return cell_window(run).length_ns / 1e6


def llm_spans(run: Run) -> list[Span]:
    return sorted(
        (
            s
            for s in run.recording.spans
            if s.kind == "llm" and s.end_ns is not None and s.end_ns > s.start_ns
        ),
        key=lambda s: s.start_ns,
    )


def decode_windows(run: Run) -> list[Window]:
    """The LLM requests' spans, or the whole cell when the run recorded none."""
    spans = llm_spans(run)
    if not spans:
        return [cell_window(run)]
    return [Window(s.start_ns, s.end_ns or s.start_ns, s) for s in spans]


def gpu_table(run: Run) -> OpTable | None:
    """The op table when it holds GPU work; GPU rules stay silent on a CPU-only trace."""
    table = run.recording.ops
    return table if table is not None and len(table) and table.has_gpu() else None


def host_rows(table: OpTable) -> npt.NDArray[np.bool_]:
    threads = np.array([lane.kind == "thread" for lane in table.lanes], dtype=bool)
    on_thread: npt.NDArray[np.bool_] = threads[table.lane_id]
    return table.mask(HOST_WORK) & on_thread


def gpu_rows(table: OpTable) -> npt.NDArray[np.bool_]:
    return table.mask(GPU_WORK)


def blocks(table: OpTable, rows: npt.NDArray[np.bool_]) -> Blocks:
    return merge(table.start_ns[rows], table.end_ns[rows])


def merge(start_ns: IntArray, end_ns: IntArray) -> Blocks:
    """The union of intervals as disjoint sorted blocks."""
    if start_ns.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(start_ns, kind="stable")
    starts, ends = start_ns[order], end_ns[order]
    reach = np.maximum.accumulate(ends)
    new_block = np.empty(starts.size, dtype=bool)
    new_block[0] = True
    new_block[1:] = starts[1:] > reach[:-1]
    last = np.append(np.flatnonzero(new_block)[1:] - 1, starts.size - 1)
    return starts[new_block].astype(np.int64), reach[last].astype(np.int64)


def clip(found: Blocks, start_ns: int, end_ns: int) -> Blocks:
    starts = np.clip(found[0], start_ns, end_ns)
    ends = np.clip(found[1], start_ns, end_ns)
    keep = ends > starts
    return starts[keep], ends[keep]


def length_ns(found: Blocks) -> int:
    return int((found[1] - found[0]).sum())


def gaps(found: Blocks, start_ns: int, end_ns: int) -> Blocks:
    """The complement of `found` within [start_ns, end_ns]: where none of the blocks runs."""
    inside = clip(found, start_ns, end_ns)
    starts = np.concatenate(([start_ns], inside[1])).astype(np.int64)
    ends = np.concatenate((inside[0], [end_ns])).astype(np.int64)
    keep = ends > starts
    return starts[keep], ends[keep]


def overlap_ns(a: Blocks, b: Blocks) -> int:
    """Time covered by both sets of disjoint blocks: a sweep over their edges where both are open."""
    if a[0].size == 0 or b[0].size == 0:
        return 0
    times = np.concatenate((a[0], a[1], b[0], b[1]))
    steps = np.concatenate(
        (np.ones(a[0].size), -np.ones(a[1].size), np.ones(b[0].size), -np.ones(b[1].size))
    ).astype(np.int64)
    order = np.argsort(times, kind="stable")
    times, open_count = times[order], np.cumsum(steps[order])
    both = open_count[:-1] == 2
    return int((np.diff(times)[both]).sum())


def request_tokens(run: Run, spans: list[Span]) -> dict[int, int]:
    """Tokens each request generated: its stream's arrivals, else the count the server or hook reported."""
    counted = {s.span_id: 0 for s in spans}
    for token in run.recording.tokens:
        if token.request_id in counted:
            counted[token.request_id] += token.n_tokens
    for span in spans:
        reported = span.attrs.get("usage_output_tokens")
        if not counted[span.span_id] and isinstance(reported, int | float):
            counted[span.span_id] = int(reported)
    return counted
