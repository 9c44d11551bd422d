"""The view-model of each attached process (`--attach PID`): its flame tree, and one timeline lane per
thread with a bar wherever the thread ran (not idle), named by the function it was in.

Bars are reduced to screen resolution: consecutive samples of one thread in the same function, less than
a pixel apart, are one bar; at most PIXELS bars per lane survive (the longest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.analysis.cpu import FlameNode, flame_tree
from workbench.model.attached import AttachedProcess
from workbench.model.run import Run

PIXELS = 2000


@dataclass
class AttachedView:
    pid: int
    label: str
    tree: FlameNode
    threads: list[str]
    # One bar per stretch a thread ran: thread (its lane), start and end on the run clock (ms), function,
    # file:line of that function.
    bars: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def sampled_ms(self) -> float:
        return self.tree.total_ns / 1e6

    @classmethod
    def from_process(cls, process: AttachedProcess, run_ms: float) -> AttachedView:
        rec = process.recording
        tree = flame_tree(rec, main_thread_id=None, root_name=process.label)
        bars: dict[str, list[Any]] = {"thread": [], "start_ms": [], "end_ms": [], "function": [], "where": []}
        pixel_ms = max(run_ms, 1e-3) / PIXELS
        threads: list[str] = []
        by_thread: dict[int, list[Any]] = {}
        for sample in sorted(rec.samples, key=lambda s: (s.thread_id, s.t_ns)):
            frames = rec.stack_frames(sample.stack_id)
            if not frames:
                continue
            by_thread.setdefault(sample.thread_id, []).append((sample, frames[-1]))
        for thread_id, rows in by_thread.items():
            name = rec.thread_name(thread_id)
            threads.append(name)
            merged: list[list[Any]] = []
            for sample, leaf in rows:
                start, end = sample.t_ns / 1e6, (sample.t_ns + sample.duration_ns) / 1e6
                last = merged[-1] if merged else None
                if last is not None and last[2] == leaf.function and start - last[1] < pixel_ms:
                    last[1] = max(last[1], end)
                    continue
                merged.append([start, end, leaf.function, f"{leaf.file}:{leaf.line}"])
            if len(merged) > PIXELS:
                merged = sorted(sorted(merged, key=lambda b: b[0] - b[1])[:PIXELS])
            for start, end, function, where in merged:
                bars["thread"].append(name)
                bars["start_ms"].append(start)
                bars["end_ms"].append(end)
                bars["function"].append(function)
                bars["where"].append(where)
        return cls(process.pid, process.label, tree, threads, bars)


def attached_views(run: Run) -> list[AttachedView]:
    """One view per attached process that has samples, in the order they were attached."""
    run_ms = run.last_event_ns / 1e6
    views = [AttachedView.from_process(p, run_ms) for p in run.recording.attached]
    return [v for v in views if v.tree.total_ns > 0]
