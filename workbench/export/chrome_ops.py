"""torch.profiler's ops and GPU work as Chrome trace events, beside the run's spans, samples and counters.

Host threads' ops go in one process, each GPU device in its own with one track per stream, and a flow
arrow joins each CUDA launch to the kernel or copy it queued (the way Kineto's own traces do).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.model.ops import CATEGORIES, NO_CORRELATION, OpTable

PID_TORCH = 4
PID_GPU_BASE = 100  # GPU device d is process 100 + d
TORCH_PROCESS = "torch ops (host threads)"

Event = dict[str, Any]


def _meta(name: str, pid: int, tid: int, args: dict[str, Any]) -> Event:
    return {"name": name, "ph": "M", "ts": 0, "pid": pid, "tid": tid, "args": args}


def _lane_tracks(table: OpTable) -> tuple[list[tuple[int, int]], list[Event]]:
    """(pid, tid) of each lane, and the process and thread names for the viewer."""
    tracks: list[tuple[int, int]] = []
    metadata: list[Event] = []
    processes: dict[int, str] = {}
    for index, lane in enumerate(table.lanes):
        pid = PID_TORCH if lane.kind == "thread" else PID_GPU_BASE + max(lane.device, 0)
        processes.setdefault(pid, TORCH_PROCESS if pid == PID_TORCH else f"GPU {lane.device}")
        tracks.append((pid, index + 1))
        metadata.append(_meta("thread_name", pid, index + 1, {"name": lane.label}))
        metadata.append(_meta("thread_sort_index", pid, index + 1, {"sort_index": index + 1}))
    for pid, name in processes.items():
        metadata.append(_meta("process_name", pid, 0, {"name": name}))
        metadata.append(_meta("process_sort_index", pid, 0, {"sort_index": pid}))
    return tracks, metadata


def op_events(table: OpTable, end_ns: int) -> list[Event]:
    """The table's events in microseconds on the run clock, clamped to [0, end_ns] like the rest."""
    if len(table) == 0:
        return []
    tracks, events = _lane_tracks(table)
    start = np.clip(table.start_ns, 0, end_ns)
    end = np.clip(table.end_ns, 0, end_ns)
    details = [*table.details, ""]
    rows = zip(
        (start / 1e3).tolist(),
        ((end - start) / 1e3).tolist(),
        table.category.tolist(),
        table.name_id.tolist(),
        table.lane_id.tolist(),
        table.correlation.tolist(),
        table.detail_id.tolist(),
        strict=True,
    )
    for ts, dur, category, name, lane, correlation, detail in rows:
        pid, tid = tracks[lane]
        args: dict[str, Any] = {}
        if correlation != NO_CORRELATION:
            args["correlation"] = correlation
        if details[detail]:
            args["detail"] = details[detail]
        events.append(
            {
                "name": table.names[name],
                "cat": CATEGORIES[category],
                "ph": "X",
                "ts": ts,
                "dur": dur,
                "pid": pid,
                "tid": tid,
                "args": args,
            }
        )
    return events + _flow_events(table, tracks, start)


def _flow_events(table: OpTable, tracks: list[tuple[int, int]], start: np.ndarray) -> list[Event]:
    """An arrow from each host launch to the GPU work with the same correlation id."""
    calls = table.launch_calls()
    events: list[Event] = []
    for row in np.flatnonzero(calls >= 0).tolist():
        correlation, launch = int(table.correlation[row]), int(calls[row])
        for phase, at in (("s", launch), ("f", row)):
            pid, tid = tracks[int(table.lane_id[at])]
            flow: Event = {"name": "launch", "cat": "ac2g", "ph": phase, "id": correlation}
            flow.update({"ts": float(start[at]) / 1e3, "pid": pid, "tid": tid})
            if phase == "f":
                flow["bp"] = "e"  # bind to the enclosing slice: the kernel that starts here
            events.append(flow)
    return events
