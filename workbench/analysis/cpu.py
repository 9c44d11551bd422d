"""CPU profile analyses: the flame tree and the top functions by self time, weighted by sampled time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from workbench.model.recording import Recording

TOP_FUNCTIONS = 10


@dataclass
class FlameNode:
    function: str
    file: str
    line: int
    total_ns: int = 0
    self_ns: int = 0
    samples: int = 0
    children: dict[tuple[str, str], FlameNode] = field(default_factory=dict)

    def child(self, function: str, file: str, line: int) -> FlameNode:
        key = (function, file)
        node = self.children.get(key)
        if node is None:
            node = self.children[key] = FlameNode(function, file, line)
        return node

    def sorted_children(self) -> list[FlameNode]:
        return sorted(self.children.values(), key=lambda n: -n.total_ns)


def flame_tree(recording: Recording, main_thread_id: int | None, root_name: str = "cell") -> FlameNode:
    """Samples merged by call path. The cell's thread hangs directly under the root; other threads get a
    labelled node of their own. Idle samples (empty stacks) count as "(idle)" leaves."""
    root = FlameNode(root_name, "", 0)
    for sample in recording.samples:
        node = root
        node.total_ns += sample.duration_ns
        node.samples += sample.count
        if sample.thread_id != main_thread_id:
            node = node.child(f"[thread {recording.thread_name(sample.thread_id)}]", "", 0)
            node.total_ns += sample.duration_ns
            node.samples += sample.count
        frames = recording.stack_frames(sample.stack_id)
        if not frames:
            node = node.child("(idle)", "", 0)
            node.total_ns += sample.duration_ns
            node.samples += sample.count
        for frame in frames:
            node = node.child(frame.function, frame.file, frame.line)
            node.total_ns += sample.duration_ns
            node.samples += sample.count
        node.self_ns += sample.duration_ns
    return root


def top_functions(recording: Recording, limit: int = TOP_FUNCTIONS) -> list[dict[str, Any]]:
    """The functions with the most self time, with self and total (inclusive) share of sampled time."""
    self_ns: dict[tuple[str, str], int] = defaultdict(int)
    total_ns: dict[tuple[str, str], int] = defaultdict(int)
    lines: dict[tuple[str, str], int] = {}
    sampled = 0
    for sample in recording.samples:
        frames = recording.stack_frames(sample.stack_id)
        if not frames:
            continue
        sampled += sample.duration_ns
        leaf = frames[-1]
        self_ns[(leaf.function, leaf.file)] += sample.duration_ns
        lines.setdefault((leaf.function, leaf.file), leaf.line)
        for key in {(f.function, f.file) for f in frames}:
            total_ns[key] += sample.duration_ns
    ranked = sorted(self_ns.items(), key=lambda item: -item[1])[:limit]
    return [
        {
            "function": function,
            "file": file,
            "line": lines[(function, file)],
            "self_ms": ns / 1e6,
            "self_pct": 100.0 * ns / sampled if sampled else 0.0,
            "total_pct": 100.0 * total_ns[(function, file)] / sampled if sampled else 0.0,
        }
        for (function, file), ns in ranked
    ]


def cpu_metrics(recording: Recording, reported_samples: int | None, rate_hz: float) -> dict[str, Any]:
    counted = sum(s.count for s in recording.samples)
    sampled_ns = sum(s.duration_ns for s in recording.samples if recording.stacks[s.stack_id])
    return {
        "samples": reported_samples if reported_samples is not None else counted,
        "rate_hz": rate_hz,
        "sampled_ms": sampled_ns / 1e6,
        "top_functions": top_functions(recording),
    }
