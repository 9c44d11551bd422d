"""The critical path of a cell: the chain of spans that determined when it ended, and what it costs per kind.

Computed as Jaeger does (jaeger-ui `criticalPath`): walking back from a span's end, the child that ended
last (before the cursor) is critical; recurse into it, move the cursor to its start, repeat; time no chosen
child covers is the span's own (self) time. Children are first clipped to their parent's interval, so a
child that ends after its parent counts only up to the parent's end.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from workbench.model.events import Span
from workbench.model.recording import Recording

NS_PER_MS = 1e6
# What run.json keeps of the path (see stage_metrics): enough to draw and explain it, bounded.
MAX_SEGMENTS = 500
MAX_GROUPS = 50
MAX_GROUP_IDS = 100
ROOT_KIND = "cell"
ROOT_SELF_NAME = "(cell code)"
PARALLEL_ASSUMPTION = (
    "estimate: requests with no detected dependency (depends_on) are taken as independent, and the "
    "server as serving them concurrently at the latency each had alone"
)


class PathSegment(NamedTuple):
    """An interval of the critical path spent in `span_id`'s own code (not in a critical child). A named
    tuple: a million-span run makes 400,000 of them, and a frozen dataclass takes three times as long."""

    span_id: int
    kind: str
    name: str
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


class PathSpan(NamedTuple):
    """A span the walk went through (the root and each chosen child), clipped to its parent."""

    span_id: int
    parent_id: int | None
    kind: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class CriticalPath:
    """Segments in time order covering the root's interval exactly once; empty without a closed root."""

    root_id: int | None
    segments: list[PathSegment] = field(default_factory=list)
    spans: list[PathSpan] = field(default_factory=list)

    @property
    def total_ns(self) -> int:
        return sum(s.duration_ns for s in self.segments)

    @property
    def per_kind_ns(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for segment in self.segments:
            totals[segment.kind] += segment.duration_ns
        return dict(totals)


@dataclass
class _Frame:
    """One span being walked: its clipped interval, its clipped children latest-ending first, a cursor."""

    span: Span
    start_ns: int
    end_ns: int
    children: list[tuple[int, int, Span]]
    cursor: int = 0
    next_child: int = 0

    def pick(self) -> tuple[int, int, Span] | None:
        # The cursor only moves back, so a child ending after it is never a candidate again.
        while self.next_child < len(self.children):
            child = self.children[self.next_child]
            self.next_child += 1
            if child[1] <= self.cursor:
                return child
        return None


def find_root(recording: Recording) -> Span | None:
    """The cell's root span: the earliest closed span of kind "cell", preferring one without a parent."""
    roots = [s for s in recording.spans if s.kind == ROOT_KIND and s.end_ns is not None]
    roots.sort(key=lambda s: (s.parent_id is not None, s.start_ns))
    return roots[0] if roots else None


def children_by_parent(spans: Iterable[Span]) -> dict[int, list[Span]]:
    """Closed spans by parent id (an open span has no interval to put on a path)."""
    children: dict[int, list[Span]] = defaultdict(list)
    for span in spans:
        if span.parent_id is not None and span.end_ns is not None and span.parent_id != span.span_id:
            children[span.parent_id].append(span)
    return children


# The last path computed, for the recording it came from: the metrics and four finding rules each ask for
# the path of the same finished recording, and for 100,000 spans one walk costs seconds.
_last: tuple[weakref.ref[Recording], tuple[int, ...], CriticalPath] | None = None


def critical_path(recording: Recording) -> CriticalPath:
    """The cell's critical path (see the module's docstring); computed once per state of the recording."""
    global _last
    root = find_root(recording)
    key = (
        len(recording.spans),
        sum(1 for s in recording.spans if s.end_ns is None),
        -1 if root is None else root.start_ns,
        -1 if root is None or root.end_ns is None else root.end_ns,
    )
    if _last is not None and _last[0]() is recording and _last[1] == key:
        return _last[2]
    path = _walk(recording, root)
    _last = (weakref.ref(recording), key, path)
    return path


def _walk(recording: Recording, root: Span | None) -> CriticalPath:
    if root is None or root.end_ns is None:
        return CriticalPath(root_id=None)
    children = children_by_parent(recording.spans)
    seen = {root.span_id}
    stack = [_enter(root, root.start_ns, root.end_ns, children, seen)]
    segments: list[PathSegment] = []  # latest first while walking back
    spans = [PathSpan(root.span_id, None, root.kind, root.start_ns, root.end_ns)]
    while stack:
        frame = stack[-1]
        child = frame.pick()
        if child is None:
            _self_time(segments, frame, frame.start_ns, root)
            stack.pop()
            continue
        start, end, span = child
        if frame.cursor > end:
            _self_time(segments, frame, end, root)
        frame.cursor = start
        spans.append(PathSpan(span.span_id, frame.span.span_id, span.kind, start, end))
        if span.span_id in children:
            stack.append(_enter(span, start, end, children, seen))
        else:  # a leaf (most spans of a big run): all of its interval is its own time, no frame needed
            segments.append(PathSegment(span.span_id, span.kind, span.name, start, end))
    segments.reverse()
    spans.sort(key=lambda s: (s.start_ns, s.end_ns))
    return CriticalPath(root.span_id, segments, spans)


def _enter(span: Span, start: int, end: int, children: dict[int, list[Span]], seen: set[int]) -> _Frame:
    clipped = []
    for child in children.get(span.span_id, []):
        assert child.end_ns is not None  # children_by_parent keeps closed spans only
        c_start, c_end = max(child.start_ns, start), min(child.end_ns, end)
        # `seen` guards against a parent cycle in corrupt data; empty intervals explain no time.
        if c_start < c_end and child.span_id not in seen:
            clipped.append((c_start, c_end, child))
            seen.add(child.span_id)
    # Latest end first; on a tie the earlier start (the longer child) explains more of the time.
    clipped.sort(key=lambda c: (-c[1], c[0], c[2].span_id))
    return _Frame(span, start, end, clipped, cursor=end)


def _self_time(segments: list[PathSegment], frame: _Frame, start: int, root: Span) -> None:
    if frame.cursor <= start:
        return
    span = frame.span
    name = ROOT_SELF_NAME if span is root else span.name
    segments.append(PathSegment(span.span_id, span.kind, name, start, frame.cursor))


def stage_breakdown(recording: Recording, path: CriticalPath) -> dict[str, dict[str, Any]]:
    """Per span kind under the root: wall time (union of intervals), critical-path time, shares of the cell.

    Kinds nest (an llm span inside a chain span), so wall shares of different kinds may add up past 1;
    critical shares add up to exactly 1, each instant of the path belonging to one span.
    """
    spans = {s.span_id: s for s in recording.spans}
    root = spans.get(path.root_id) if path.root_id is not None else None
    if root is None or root.end_ns is None:
        return {}
    root_start, root_end = root.start_ns, root.end_ns
    intervals: dict[str, list[tuple[int, int]]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for span in subtree(root, children_by_parent(recording.spans)):
        counts[span.kind] += 1
        assert span.end_ns is not None
        intervals[span.kind].append((max(span.start_ns, root_start), min(span.end_ns, root_end)))
    cell_ns = root_end - root_start
    critical = path.per_kind_ns
    kinds = sorted(set(counts) | set(critical))
    walls = {kind: union_ns(intervals.get(kind, [])) for kind in kinds}
    return {
        kind: _kind_row(counts.get(kind, 0), walls[kind], critical.get(kind, 0), cell_ns) for kind in kinds
    }


def _kind_row(count: int, wall_ns: int, critical_ns: int, cell_ns: int) -> dict[str, Any]:
    return {
        "count": count,
        "wall_ms": wall_ns / NS_PER_MS,
        "wall_share": wall_ns / cell_ns if cell_ns > 0 else None,
        "critical_ms": critical_ns / NS_PER_MS,
        "critical_share": critical_ns / cell_ns if cell_ns > 0 else None,
    }


def subtree(root: Span, children: dict[int, list[Span]]) -> list[Span]:
    """`root` and its closed descendants (each once, even if corrupt parent ids form a cycle)."""
    out, seen, todo = [root], {root.span_id}, [root]
    while todo:
        for child in children.get(todo.pop().span_id, []):
            if child.span_id not in seen:
                seen.add(child.span_id)
                out.append(child)
                todo.append(child)
    return out


def union_ns(intervals: Iterable[tuple[int, int]]) -> int:
    """Length of the union of [start, end) intervals: time covered by several counts once."""
    total, reach = 0, None
    for start, end in sorted(intervals):
        if reach is None or start >= reach:
            total += max(end - start, 0)
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def parallelizable_llm(recording: Recording, path: CriticalPath) -> dict[str, Any]:
    """An estimate of the critical-path time that running sequential, independent LLM calls at once saves.

    Sibling llm spans on the critical path that ran one after another (no other critical sibling between
    them) form a run. Run concurrently, a run would take as long as its longest dependency chain (via
    `depends_on`), instead of the sum of its requests; the saving is the difference.
    """
    attrs = {s.span_id: s.attrs for s in recording.spans}
    groups = [_group(run, attrs) for run in _sequential_llm_runs(path)]
    return {
        "estimated_saving_ms": sum((g["saving_ms"] for g in groups), 0.0),
        "groups": groups,
        "assumption": PARALLEL_ASSUMPTION,
    }


def _sequential_llm_runs(path: CriticalPath) -> list[list[PathSpan]]:
    if not any(span.kind == "llm" for span in path.spans):
        return []
    by_parent: dict[int, list[PathSpan]] = defaultdict(list)
    for span in path.spans:  # in time order
        if span.parent_id is not None:
            by_parent[span.parent_id].append(span)
    runs: list[list[PathSpan]] = []
    for siblings in by_parent.values():
        current: list[PathSpan] = []
        for span in siblings:
            if span.kind == "llm":
                current.append(span)
                continue
            # Another kind of stage on the path between two calls (e.g. retrieval) may feed the second.
            runs.append(current)
            current = []
        runs.append(current)
    return [run for run in runs if len(run) >= 2]


def _group(run: Sequence[PathSpan], attrs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    sequential = sum(s.end_ns - s.start_ns for s in run)
    concurrent = longest_chain_ns(run, attrs)
    return {
        "parent_id": run[0].parent_id,
        "span_ids": [s.span_id for s in run],
        "calls": len(run),
        "sequential_ms": sequential / NS_PER_MS,
        "concurrent_ms": concurrent / NS_PER_MS,
        "saving_ms": (sequential - concurrent) / NS_PER_MS,
    }


def longest_chain_ns(run: Sequence[PathSpan], attrs: dict[int, dict[str, Any]]) -> int:
    """The longest total duration along `depends_on` edges in `run` (time order): its time run at once."""
    finish: dict[int, int] = {}
    for span in run:
        depends = {int(i) for i in attrs.get(span.span_id, {}).get("depends_on") or []}
        # Only an earlier request of the same run can hold this one back; others are already done.
        ready = max((finish[i] for i in depends if i in finish), default=0)
        finish[span.span_id] = ready + span.end_ns - span.start_ns
    return max(finish.values(), default=0)


def stage_metrics(recording: Recording, max_segments: int | None = MAX_SEGMENTS) -> dict[str, Any]:
    """Everything above as plain data for a run's metrics (times in ms).

    Stored summarized, so that a cell of a million spans keeps a small run.json and notebook output: the
    `max_segments` longest segments of the path (in time order; `segment_count` and `segments_left_out_ms`
    say what is left out) and the MAX_GROUPS largest parallelizable groups, each with at most
    MAX_GROUP_IDS span ids (`calls` counts them all). Totals and per-kind figures are exact. The whole
    path is recomputed from the events with `stage_metrics(run.recording, max_segments=None)`.
    """
    path = critical_path(recording)
    rows = [_segment_row(s) for s in path.segments]
    kept = rows
    if max_segments is not None and len(rows) > max_segments:
        longest = sorted(range(len(rows)), key=lambda i: -rows[i]["duration_ms"])[:max_segments]
        kept = [rows[i] for i in sorted(longest)]
    parallel = parallelizable_llm(recording, path)
    if max_segments is not None:
        parallel["group_count"] = len(parallel["groups"])
        groups = sorted(parallel["groups"], key=lambda g: -g["saving_ms"])[:MAX_GROUPS]
        parallel["groups"] = [{**g, "span_ids": g["span_ids"][:MAX_GROUP_IDS]} for g in groups]
    return {
        "critical_path": {
            "root_id": path.root_id,
            "total_ms": path.total_ns / NS_PER_MS,
            "per_kind_ms": {kind: ns / NS_PER_MS for kind, ns in sorted(path.per_kind_ns.items())},
            "segments": kept,
            "segment_count": len(rows),
            "segments_left_out_ms": sum(r["duration_ms"] for r in rows) - sum(r["duration_ms"] for r in kept),
        },
        "per_kind": stage_breakdown(recording, path),
        "parallelizable": parallel,
    }


def _segment_row(segment: PathSegment) -> dict[str, Any]:
    return {
        "span_id": segment.span_id,
        "kind": segment.kind,
        "name": segment.name,
        "start_ms": segment.start_ns / NS_PER_MS,
        "end_ms": segment.end_ns / NS_PER_MS,
        "duration_ms": segment.duration_ns / NS_PER_MS,
    }
