"""Per-rank GPU time as Holistic Trace Analysis defines it, in exact nanoseconds.

HTA (`hta/analyzers/breakdown_analysis.py`, `get_temporal_breakdown`; `hta/utils/utils.py`,
`get_kernel_type`) measures one rank's GPU like this, and so do we:
- window: from the start of the rank's first GPU event to the end of its last;
- busy: the union over all streams of kernels, memcpy and memset; idle = window - busy;
- compute: the union of the events whose name HTA's `ComputeKernelGroupingPattern` calls computation
  (not NCCL/RCCL/HCCL, not Memcpy/Memset/DMA, not syncs); non-compute = busy - compute;
- communication and memory: the unions of the events HTA types COMMUNICATION and MEMORY (each may
  overlap compute on another stream, so they need not add up to non-compute);
- comm/comp overlap (`get_comm_comp_overlap`): time both a communication and a computation event run,
  over the communication union.
HTA's default view also drops GPU work launched in the last ProfilerStep and rounds fractional µs
inward; we keep every GPU event and exact ns (see README, "Several ranks").
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt

from workbench.model.ops import CATEGORY_CODE, GPU_WORK, OpTable

IntArray = npt.NDArray[np.int64]
Blocks = tuple[IntArray, IntArray]

# HTA's patterns (hta/common/types.py), matched as HTA does: `re.match`, i.e. anchored at the start.
COMMUNICATION_PATTERN = re.compile(r"(^nccl.*)|(^hip)|(^hccl)|(.*ncclKernel.*)")
MEMORY_PATTERN = re.compile(r"(^(hip)?Memcpy)|(^(hip)?Memset)|(^dma)")
NOT_COMPUTE_PATTERN = re.compile(
    r"(^nccl)|(.*Memcpy)|(.*Memset)|(.*dma)|(^.*Sync)|(^Stream Wait Event)|(cuda.*LaunchKernel)|"
    r"(^runFunction)|(^hip)|(^job_exe)|(^packet)|(^pe_exe)|(^cpum_exe_subgraph)|(^hccl)|"
    r"(^collective_subgraph_execution)"
)
# HTA's KernelType values, in its order of precedence.
COMMUNICATION, MEMORY, COMPUTATION, OTHER = 0, 1, 2, 3
KERNEL_TYPES = ("communication", "memory", "computation", "other")


def kernel_type(name: str) -> int:
    """HTA's `get_kernel_type` for one GPU event's name."""
    if COMMUNICATION_PATTERN.match(name):
        return COMMUNICATION
    if MEMORY_PATTERN.match(name):
        return MEMORY
    if not NOT_COMPUTE_PATTERN.match(name):
        return COMPUTATION
    return OTHER


def name_types(names: list[str]) -> npt.NDArray[np.int8]:
    """`kernel_type` of each interned name (typed once per distinct name, not per event)."""
    return np.array([kernel_type(n) for n in names], dtype=np.int8)


def merge(start_ns: IntArray, end_ns: IntArray) -> Blocks:
    """The union of intervals as sorted disjoint blocks (HTA's `merge_kernel_intervals`)."""
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


def total_ns(blocks: Blocks) -> int:
    return int((blocks[1] - blocks[0]).sum())


def intersection_ns(a: Blocks, b: Blocks) -> int:
    """Time covered by both sets of disjoint blocks (HTA's running-status sweep, vectorised)."""
    if a[0].size == 0 or b[0].size == 0:
        return 0
    times = np.concatenate((a[0], a[1], b[0], b[1]))
    steps = np.concatenate(
        (np.ones(a[0].size), -np.ones(a[1].size), np.ones(b[0].size), -np.ones(b[1].size))
    ).astype(np.int64)
    # Ends before starts at equal times: touching blocks do not overlap.
    order = np.lexsort((steps, times))
    times, open_count = times[order], np.cumsum(steps[order])
    both = open_count[:-1] == 2
    return int(np.diff(times)[both].sum())


def gpu_window_ns(table: OpTable, rows: npt.NDArray[np.bool_] | None = None) -> tuple[int, int] | None:
    """First start and last end of the GPU work among `rows` (all rows when None); None without any."""
    work = table.mask(GPU_WORK) if rows is None else rows & table.mask(GPU_WORK)
    if not work.any():
        return None
    return int(table.start_ns[work].min()), int(table.end_ns[work].max())


def rank_breakdown(table: OpTable, rank: int, rows: npt.NDArray[np.bool_] | None = None) -> dict[str, Any]:
    """One rank's entry of `run.metrics["gpu"]["ranks"]` from its rows of the op table (all when None)."""
    work = table.mask(GPU_WORK) if rows is None else rows & table.mask(GPU_WORK)
    kernels = work & (table.category == CATEGORY_CODE["kernel"])
    types = name_types(table.names)[table.name_id[work]] if work.any() else np.zeros(0, np.int8)
    start, end = table.start_ns[work], table.end_ns[work]
    busy = merge(start, end)
    by_type = {t: merge(start[types == t], end[types == t]) for t in (COMMUNICATION, MEMORY, COMPUTATION)}
    window_ns = int(busy[1].max() - busy[0].min()) if busy[0].size else 0
    busy_ns, compute_ns = total_ns(busy), total_ns(by_type[COMPUTATION])
    communication_ns = total_ns(by_type[COMMUNICATION])
    overlap = intersection_ns(by_type[COMMUNICATION], by_type[COMPUTATION])
    return {
        "rank": rank,
        "window_ms": window_ns / 1e6,
        "busy_ms": busy_ns / 1e6,
        "idle_ms": (window_ns - busy_ns) / 1e6,
        "compute_ms": compute_ns / 1e6,
        "non_compute_ms": (busy_ns - compute_ns) / 1e6,
        "communication_ms": communication_ns / 1e6,
        "memory_ms": total_ns(by_type[MEMORY]) / 1e6,
        "kernel_count": int(kernels.sum()),
        "kernel_ms": float(table.duration_ns[kernels].sum()) / 1e6,
        "comm_comp_overlap": overlap / communication_ns if communication_ns else None,
        "first_gpu_ms": int(busy[0].min()) / 1e6 if busy[0].size else None,
    }


# Two traces of one job start within the profiler's schedule of each other: minutes, not hours.
SAME_JOB_WITHIN_S = 600.0


def rank_pair(a: Any, b: Any) -> tuple[int, int] | None:
    """(rank of a, rank of b) when runs `a` and `b` are two ranks of one distributed job (their traces'
    `distributedInfo` agree on backend and world size, name different ranks, and they started within
    `SAME_JOB_WITHIN_S` of each other); None otherwise. Such runs differ by imbalance, not by a change."""
    infos = [run.environment.get("distributed") for run in (a, b)]
    if not all(isinstance(info, dict) for info in infos):
        return None
    first, second = infos
    ranks = first.get("rank"), second.get("rank")
    if not all(isinstance(r, int) and not isinstance(r, bool) for r in ranks) or ranks[0] == ranks[1]:
        return None
    for key in ("backend", "world_size"):
        if first.get(key) != second.get(key):
            return None
    if abs(float(a.origin_wall_s) - float(b.origin_wall_s)) > SAME_JOB_WITHIN_S:
        return None
    return int(ranks[0]), int(ranks[1])
