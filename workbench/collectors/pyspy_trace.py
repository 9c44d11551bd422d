"""Ingest py-spy's `chrometrace` output: per-thread B/E events become time-weighted stack samples.

py-spy emits events only when a thread's stack changes, with `ts` in microseconds since it started, so
each state between two changes is one `StackSample` lasting until the next change. It runs with `--idle`
so that every tick reports every thread and a state's duration is exact to one sampling tick.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

from workbench.analysis.stacks import is_cell_file, is_infrastructure, is_parked, trim_stack
from workbench.model.events import Frame, StackSample
from workbench.model.recording import Recording


def thread_count(events: Iterable[dict[str, Any]]) -> int:
    return len({event["tid"] for event in events if event.get("ph") in ("B", "E")})


def thread_states(events: Iterable[dict[str, Any]]) -> dict[int, list[tuple[float, list[Frame]]]]:
    """For each thread, the stacks (root first) it entered and when, in py-spy microseconds."""
    stacks: dict[int, list[Frame]] = defaultdict(list)
    states: dict[int, list[tuple[float, list[Frame]]]] = defaultdict(list)
    for event in events:
        phase = event.get("ph")
        if phase not in ("B", "E"):
            continue
        tid = int(event["tid"])
        ts = float(event["ts"])
        stack = stacks[tid]
        if phase == "B":
            args = event.get("args") or {}
            stack.append(
                Frame(str(event.get("name", "?")), str(args.get("filename", "")), int(args.get("line") or 0))
            )
        elif stack:
            stack.pop()
        history = states[tid]
        if history and history[-1][0] == ts:
            history[-1] = (ts, list(stack))
        else:
            history.append((ts, list(stack)))
    return states


def ingest_chrometrace(
    events: list[dict[str, Any]],
    recording: Recording,
    *,
    origin_ns: int,
    rate_hz: float,
    window: tuple[int, int],
    anchor_files: frozenset[str] = frozenset(),
    include_idle: bool = False,
    main_thread_id: int | None = None,
) -> int:
    """Add the trace's samples to `recording`, on the run clock (py-spy's 0 is `origin_ns`).

    Only the part of each state inside `window` is kept. Returns the number of samples added.
    """
    start, end = window
    period_ns = 1e9 / rate_hz
    added = 0
    for tid, history in thread_states(events).items():
        for (ts, frames), (next_ts, _) in pairwise(history):
            t0 = max(origin_ns + round(ts * 1000), start)
            t1 = min(origin_ns + round(next_ts * 1000), end)
            if t1 <= t0:
                continue
            trimmed = trim_stack(frames, anchor_files)
            # The cell's thread waiting is latency the user feels; another thread waiting is idle.
            if tid != main_thread_id and is_parked(trimmed):
                trimmed = []
            # The cell's thread inside the kernel but outside the cell (IPython finishing the execution
            # before the profile stops) is the kernel's work, not the user's.
            if tid == main_thread_id and _kernel_work_outside_cell(frames, anchor_files):
                trimmed = []
            if not trimmed and not include_idle:
                continue
            count = max(1, round((t1 - t0) / period_ns))
            recording.add_sample(StackSample(t0, tid, recording.intern_stack(trimmed), t1 - t0, count))
            added += 1
    return added


def _kernel_work_outside_cell(frames: list[Frame], anchor_files: frozenset[str]) -> bool:
    if not frames or not is_infrastructure(frames[0]):
        return False
    return not any(is_cell_file(f.file) or f.file in anchor_files for f in frames)
