"""The timeline's view-model: spans as bars in lanes (a child below its parent), token arrivals as points.

x is milliseconds since the run started; lane 0 is the top row. When the cell's critical path goes through
more than its root span, lane 0 holds the path's segments and every span is marked if the path crosses it.
"""

from __future__ import annotations

import bisect
import json
import weakref
from dataclasses import dataclass, field, fields
from typing import Any

from workbench.model.events import Span
from workbench.model.run import Run
from workbench.render.palette import span_kind_color
from workbench.render.stage_view import PathSegment, StageView

NS_PER_MS = 1e6
# Token dots drawn one per arrival up to here (a few minutes of streaming); beyond, arrivals of one request
# within one bin (1/TOKEN_BINS of the run) are one dot carrying their count, so an hour-long cell's
# notebook output stays a few MB instead of holding 100k dots.
MAX_TOKEN_DOTS = 20_000
TOKEN_BINS = 4_000
# Span bars drawn up to here; beyond, the cell's root, the spans the critical path crosses and then the
# longest others (a cell of 100,000 spans made a 25 MB output of bars narrower than a pixel).
MAX_SPAN_BARS = 5_000


@dataclass(frozen=True)
class SpanBar:
    span_id: int
    name: str
    kind: str
    lane: int
    start_ms: float
    end_ms: float
    duration_ms: float
    open: bool
    thread: str
    attrs: str
    color: str
    critical: bool = False


@dataclass(frozen=True)
class TokenPoint:
    request_id: int
    request: str
    t_ms: float
    n_tokens: int
    lane: int


@dataclass(frozen=True)
class TimelineView:
    bars: list[SpanBar]
    tokens: list[TokenPoint]
    duration_ms: float
    path: list[PathSegment] = field(default_factory=list)
    # Milliseconds of arrivals one dot stands for, when merged (0: one dot per arrival).
    token_bin_ms: float = 0.0
    # How many spans the run has, when only some are drawn (0: all are).
    spans_total: int = 0

    @property
    def lanes(self) -> int:
        rows = [b.lane for b in self.bars] + [t.lane for t in self.tokens] + ([0] if self.path else [])
        return max(rows, default=-1) + 1

    @property
    def empty(self) -> bool:
        return not self.bars and not self.tokens

    @classmethod
    def from_run(cls, run: Run) -> TimelineView:
        # The dashboard, its timeline plot and the static picture each ask: build it once per run state.
        global _last_view
        key = (run.id, run.duration_ns, len(run.recording.spans), len(run.recording.tokens))
        if _last_view is not None and _last_view[0]() is run and _last_view[1] == key:
            return _last_view[2]
        view = cls._from_run(run)
        _last_view = (weakref.ref(run), key, view)
        return view

    @classmethod
    def _from_run(cls, run: Run) -> TimelineView:
        rec = run.recording
        stages = StageView.from_run(run)
        path = stages.segments if stages.has_stages else []
        # The critical path's lane is the top one; spans move down one lane to make room.
        shift = 1 if path else 0
        on_path = stages.path_span_ids if path else frozenset()
        drawn = shown_spans(rec.spans, on_path, MAX_SPAN_BARS)
        # Lanes for what is drawn (and the requests that token dots sit on): a million spans would take
        # seconds to place, and only a few thousand are drawn.
        placed = drawn
        if len(drawn) < len(rec.spans):
            drawn_ids = {s.span_id for s in drawn}
            requests = {t.request_id for t in rec.tokens} - drawn_ids
            placed = [s for s in rec.spans if s.span_id in drawn_ids or s.span_id in requests]
        lanes = {span_id: lane + shift for span_id, lane in assign_lanes(placed, run.duration_ns).items()}
        bars = [
            _bar(s, lanes[s.span_id], run.duration_ns, rec.thread_name(s.thread_id), s.span_id in on_path)
            for s in drawn
        ]
        names = {s.span_id: s.name for s in rec.spans}
        # Arrivals of a request with no span still show, on a row of their own below the spans.
        orphan_lane = max(lanes.values(), default=shift - 1) + 1
        tokens = [
            TokenPoint(
                request_id=t.request_id,
                request=names.get(t.request_id, f"request {t.request_id} (no span)"),
                t_ms=t.t_ns / NS_PER_MS,
                n_tokens=t.n_tokens,
                lane=lanes.get(t.request_id, orphan_lane),
            )
            for t in rec.tokens
        ]
        duration_ms = run.last_event_ns / NS_PER_MS
        bin_ms = 0.0
        if len(tokens) > MAX_TOKEN_DOTS:
            bin_ms = duration_ms / TOKEN_BINS
            tokens = merge_token_points(tokens, bin_ms)
        total = len(rec.spans) if len(drawn) < len(rec.spans) else 0
        return cls(bars, tokens, duration_ms, path, token_bin_ms=bin_ms, spans_total=total)

    def bar_columns(self) -> dict[str, list[Any]]:
        data = _columns(self.bars, SpanBar)
        # Generic names the label-fitting code expects.
        data["x0"], data["x1"], data["label"] = data["start_ms"], data["end_ms"], data["name"]
        data["y"] = [b.lane + 0.5 for b in self.bars]
        return data

    def path_columns(self) -> dict[str, list[Any]]:
        data = _columns(self.path, PathSegment)
        data["x0"], data["x1"], data["label"] = data["start_ms"], data["end_ms"], data["name"]
        data["y"] = [0.5] * len(self.path)
        return data

    def token_columns(self) -> dict[str, list[Any]]:
        data = _columns(self.tokens, TokenPoint)
        data["y"] = [t.lane + 0.5 for t in self.tokens]
        return data


def merge_token_points(tokens: list[TokenPoint], bin_ms: float) -> list[TokenPoint]:
    """One dot per request and bin, at the bin's first arrival, carrying the bin's token count."""
    merged: dict[tuple[int, int], TokenPoint] = {}
    for point in tokens:
        key = (point.request_id, int(point.t_ms // bin_ms))
        first = merged.get(key)
        if first is None:
            merged[key] = point
        else:
            merged[key] = TokenPoint(
                first.request_id, first.request, first.t_ms, first.n_tokens + point.n_tokens, first.lane
            )
    return sorted(merged.values(), key=lambda p: p.t_ms)


def _columns(rows: list[Any], kind: type) -> dict[str, list[Any]]:
    return {f.name: [getattr(row, f.name) for row in rows] for f in fields(kind)}


def _end_ns(span: Span, run_end_ns: int) -> int:
    return run_end_ns if span.end_ns is None else max(span.end_ns, span.start_ns)


def _bar(span: Span, lane: int, run_end_ns: int, thread: str, critical: bool) -> SpanBar:
    end_ns = _end_ns(span, run_end_ns)
    return SpanBar(
        span_id=span.span_id,
        name=span.name,
        kind=span.kind,
        lane=lane,
        start_ms=span.start_ns / NS_PER_MS,
        end_ms=end_ns / NS_PER_MS,
        duration_ms=(end_ns - span.start_ns) / NS_PER_MS,
        open=span.end_ns is None,
        thread=thread,
        attrs=json.dumps(span.attrs, default=str, sort_keys=True)[:300],
        color=span_kind_color(span.kind),
        critical=critical,
    )


_last_view: tuple[weakref.ref[Run], tuple[str, int, int, int], TimelineView] | None = None


class _Lanes:
    """Occupied intervals per lane, kept sorted so a free slot is found by bisection."""

    def __init__(self) -> None:
        self.starts: list[list[int]] = []
        self.ends: list[list[int]] = []

    def first_free(self, lowest: int, start: int, end: int) -> int:
        lane = lowest
        while lane < len(self.starts) and self._overlaps(lane, start, end):
            lane += 1
        if lane == len(self.starts):
            self.starts.append([])
            self.ends.append([])
        index = bisect.bisect_left(self.starts[lane], start)
        self.starts[lane].insert(index, start)
        self.ends[lane].insert(index, end)
        return lane

    def _overlaps(self, lane: int, start: int, end: int) -> bool:
        starts, ends = self.starts[lane], self.ends[lane]
        index = bisect.bisect_left(starts, start)
        before = index > 0 and ends[index - 1] > start
        after = index < len(starts) and starts[index] < end
        return before or after


def shown_spans(spans: list[Span], on_path: frozenset[int], limit: int = MAX_SPAN_BARS) -> list[Span]:
    """The spans drawn as bars, in recording order: all of them up to `limit`; beyond, the roots and the
    spans on the critical path first, then the longest others."""
    if len(spans) <= limit:
        return spans

    def rank(span: Span) -> tuple[bool, int]:
        must = span.parent_id is None or span.span_id in on_path
        end = span.end_ns if span.end_ns is not None else span.start_ns
        return (not must, -(end - span.start_ns))

    kept = {s.span_id for s in sorted(spans, key=rank)[:limit]}
    return [s for s in spans if s.span_id in kept]


def assign_lanes(spans: list[Span], run_end_ns: int) -> dict[int, int]:
    """span_id -> lane. A span sits below its parent; spans overlapping in time never share a lane."""
    by_id = {s.span_id: s for s in spans}
    children: dict[int | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in by_id and span.parent_id != span.span_id else None
        children.setdefault(parent, []).append(span)
    lanes: dict[int, int] = {}
    occupied = _Lanes()
    _place(children.get(None, []), children, lanes, occupied, run_end_ns)
    # Spans whose parents form a cycle have no root above them; they start at the top like roots.
    _place([s for s in spans if s.span_id not in lanes], children, lanes, occupied, run_end_ns)
    return lanes


def _place(
    roots: list[Span],
    children: dict[int | None, list[Span]],
    lanes: dict[int, int],
    occupied: _Lanes,
    run_end_ns: int,
) -> None:
    # Depth first, so parents are placed before their children, each level in start order.
    pending: list[tuple[Span, int]] = [(s, 0) for s in sorted(roots, key=_start, reverse=True)]
    while pending:
        span, lowest = pending.pop()
        if span.span_id in lanes:
            continue
        end = max(_end_ns(span, run_end_ns), span.start_ns + 1)
        lane = lanes[span.span_id] = occupied.first_free(lowest, span.start_ns, end)
        kids = sorted(children.get(span.span_id, []), key=_start, reverse=True)
        pending.extend((kid, lane + 1) for kid in kids)


def _start(span: Span) -> int:
    return span.start_ns
