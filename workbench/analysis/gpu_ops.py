"""What the op trace says about the GPU: top kernels, busy vs idle time, host launch overhead.

Pure functions over an `OpTable`, vectorised: a cell's trace can hold a million events.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from workbench.model.ops import CATEGORY_CODE, GPU_WORK, LAUNCH_CALLS, OpTable

TOP_N = 20
# Host calls that wait for the GPU: each one stalls the Python thread until queued work finishes.
SYNC_CALLS = frozenset(
    {
        "cudaDeviceSynchronize",
        "cudaStreamSynchronize",
        "cudaEventSynchronize",
        "cudaStreamWaitEvent",
        "cuCtxSynchronize",
        "cuStreamSynchronize",
    }
)


def totals_by_name(table: OpTable, mask: npt.NDArray[np.bool_]) -> list[dict[str, Any]]:
    """Per name among the masked rows: count, total, mean and max ms, largest total first."""
    if not mask.any():
        return []
    names = table.name_id[mask]
    durations = table.duration_ns[mask].astype(np.float64)
    ids, inverse = np.unique(names, return_inverse=True)
    totals = np.bincount(inverse, weights=durations)
    counts = np.bincount(inverse)
    maxima = np.zeros(ids.size)
    np.maximum.at(maxima, inverse, durations)
    grand = float(totals.sum()) or 1.0
    order = np.argsort(-totals, kind="stable")
    return [
        {
            "name": table.names[int(ids[i])],
            "count": int(counts[i]),
            "total_ms": float(totals[i]) / 1e6,
            "mean_ms": float(totals[i]) / counts[i] / 1e6,
            "max_ms": float(maxima[i]) / 1e6,
            "share": float(totals[i]) / grand,
        }
        for i in order
    ]


def union_ns(start_ns: npt.NDArray[np.int64], end_ns: npt.NDArray[np.int64]) -> int:
    """Length of the union of intervals: overlapping kernels on two streams count once."""
    if start_ns.size == 0:
        return 0
    order = np.argsort(start_ns, kind="stable")
    starts, ends = start_ns[order], end_ns[order]
    reach = np.maximum.accumulate(ends)
    # A new block starts where an interval begins after everything before it has ended.
    new_block = np.empty(starts.size, dtype=bool)
    new_block[0] = True
    new_block[1:] = starts[1:] > reach[:-1]
    block_ids = np.cumsum(new_block) - 1
    block_start = starts[new_block]
    block_end = np.zeros(block_start.size, dtype=np.int64)
    np.maximum.at(block_end, block_ids, ends)
    return int((block_end - block_start).sum())


def _clip(table: OpTable, mask: npt.NDArray[np.bool_], window: tuple[int, int]) -> tuple[Any, Any]:
    start = np.clip(table.start_ns[mask], window[0], window[1])
    end = np.clip(table.end_ns[mask], window[0], window[1])
    return start, end


def device_activity(table: OpTable, window: tuple[int, int]) -> list[dict[str, Any]]:
    """Per GPU device: busy (any kernel or copy running) and idle time within the window."""
    work = table.mask(GPU_WORK)
    length = max(window[1] - window[0], 1)
    devices = np.array([lane.device for lane in table.lanes], dtype=np.int64)
    row_device = devices[table.lane_id] if len(table) else np.zeros(0, np.int64)
    out = []
    for device in sorted(set(row_device[work].tolist())):
        on_device = work & (row_device == device)
        busy = union_ns(*_clip(table, on_device, window))
        by_kind = {
            f"{kind.removeprefix('gpu_')}_ms": float(
                table.duration_ns[on_device & (table.category == CATEGORY_CODE[kind])].sum()
            )
            / 1e6
            for kind in GPU_WORK
        }
        out.append(
            {
                "device": int(device),
                "busy_ms": busy / 1e6,
                "idle_ms": (length - busy) / 1e6,
                "busy_share": busy / length,
                **by_kind,
            }
        )
    return out


def host_calls(table: OpTable, names: frozenset[str]) -> npt.NDArray[np.bool_]:
    """Rows of CUDA runtime or driver calls with one of `names`."""
    ids = [i for i, name in enumerate(table.names) if name in names]
    runtime = table.mask(("cuda_runtime", "cuda_driver"))
    return runtime & np.isin(table.name_id, np.array(ids, dtype=np.int32))


def launch_overhead(table: OpTable) -> dict[str, Any]:
    """Host time spent launching work vs the GPU time that work took.

    When launches cost as much as the kernels they queue, the GPU waits on Python and the CPU: the
    case for CUDA graphs, `torch.compile` or larger batches."""
    launches = host_calls(table, LAUNCH_CALLS)
    kernels = table.category == CATEGORY_CODE["kernel"]
    launch_ns = float(table.duration_ns[launches].sum())
    kernel_ns = float(table.duration_ns[kernels].sum())
    count = int(launches.sum())
    # The median is the typical launch: the first launch in a process can take seconds (CUDA set-up).
    median = float(np.median(table.duration_ns[launches])) if count else 0.0
    return {
        "calls": count,
        "total_ms": launch_ns / 1e6,
        "mean_us": launch_ns / count / 1e3 if count else 0.0,
        "median_us": median / 1e3,
        "kernel_ms": kernel_ns / 1e6,
        "launch_to_kernel": launch_ns / kernel_ns if kernel_ns else None,
        "kernels_shorter_than_launch": int((table.duration_ns[kernels] < median).sum()) if count else 0,
    }


def sync_calls(table: OpTable) -> dict[str, Any]:
    syncs = host_calls(table, SYNC_CALLS)
    return {"calls": int(syncs.sum()), "total_ms": float(table.duration_ns[syncs].sum()) / 1e6}


def op_metrics(table: OpTable, window: tuple[int, int]) -> dict[str, Any]:
    gpu = table.mask(GPU_WORK)
    stream_lanes = {int(i) for i in np.unique(table.lane_id[gpu])}
    counts = {name: int((table.category == code).sum()) for name, code in CATEGORY_CODE.items()}
    return {
        "source": table.source,
        "gpu_note": table.gpu_note,
        "events": len(table),
        "dropped": table.dropped,
        "counts": {name: n for name, n in counts.items() if n},
        "streams": [table.lanes[i].label for i in sorted(stream_lanes)],
        "top_kernels": totals_by_name(table, table.category == CATEGORY_CODE["kernel"])[:TOP_N],
        "top_cpu_ops": totals_by_name(table, table.category == CATEGORY_CODE["cpu_op"])[:TOP_N],
        "devices": device_activity(table, window),
        "launch": launch_overhead(table),
        "sync": sync_calls(table),
    }
