"""The live view's view-model: what changed in a growing recording since the last look, and running totals.

Other threads append to the recording's lists while the cell runs, so a `LiveCursor` remembers how far each
list has been read and `LiveSnapshot.from_recording` reads only the new index ranges (lists are only
appended to; a span's `end_ns` is set once, when it closes). Work per call is bounded, so a burst of events
is caught up over several ticks instead of stalling one.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from workbench.model.events import Span
from workbench.model.recording import Recording
from workbench.render.palette import span_kind_color

NS_PER_S = 1e9
# Tokens per second are counted over this trailing window.
RATE_WINDOW_NS = 2_000_000_000
# Token arrivals are merged per request into bins this wide: the browser gets points at screen resolution.
TOKEN_BIN_NS = 50_000_000
MAX_SPANS_PER_TICK = 500
MAX_TOKENS_PER_TICK = 20_000
MAX_COUNTERS_PER_TICK = 5_000


@dataclass
class LiveCursor:
    """How far the recording has been read, and the running state the totals need."""

    spans: int = 0
    tokens: int = 0
    counters: int = 0
    open_spans: dict[int, Span] = field(default_factory=dict)
    depth: dict[int, int] = field(default_factory=dict)
    send_ns: dict[int, int] = field(default_factory=dict)
    answered: set[int] = field(default_factory=set)
    ttfts_ms: list[float] = field(default_factory=list)  # kept sorted
    recent: deque[tuple[int, int]] = field(default_factory=deque)
    total_tokens: int = 0
    latest: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SpanRow:
    span_id: int
    name: str
    kind: str
    lane: int
    start_s: float
    end_s: float
    color: str


@dataclass(frozen=True)
class TokenRow:
    t_s: float
    lane: int
    n_tokens: int


@dataclass(frozen=True)
class LiveSnapshot:
    now_s: float
    cpu_samples: int
    total_tokens: int
    tokens_per_s: float
    ttft_p50_ms: float | None
    requests: int
    closed_spans: list[SpanRow]
    open_spans: list[SpanRow]
    tokens: list[TokenRow]
    counters: dict[str, float]
    status: str = "running"

    @classmethod
    def from_recording(
        cls, recording: Recording, cursor: LiveCursor, now_ns: int, cpu_samples: int = 0
    ) -> LiveSnapshot:
        """The increments since `cursor` (which is advanced past them) and the totals up to `now_ns`."""
        closed, still_open = _read_spans(recording, cursor, now_ns)
        tokens = _read_tokens(recording, cursor)
        _read_counters(recording, cursor)
        while cursor.recent and cursor.recent[0][0] < now_ns - RATE_WINDOW_NS:
            cursor.recent.popleft()
        window_s = min(RATE_WINDOW_NS, max(now_ns, 1)) / NS_PER_S
        return cls(
            now_s=now_ns / NS_PER_S,
            cpu_samples=cpu_samples,
            total_tokens=cursor.total_tokens,
            tokens_per_s=sum(n for _, n in cursor.recent) / window_s,
            ttft_p50_ms=_median(cursor.ttfts_ms),
            requests=len(cursor.send_ns),
            closed_spans=closed,
            open_spans=still_open,
            tokens=tokens,
            counters=dict(cursor.latest),
        )

    def columns(self, rows: list[Any]) -> dict[str, list[Any]]:
        """Rows of one kind (all SpanRow or all TokenRow) as ColumnDataSource columns."""
        if not rows:
            return {}
        names = list(type(rows[0]).__dataclass_fields__)
        return {name: [getattr(row, name) for row in rows] for name in names}


def _read_spans(recording: Recording, cursor: LiveCursor, now_ns: int) -> tuple[list[SpanRow], list[SpanRow]]:
    spans = recording.spans
    end = min(len(spans), cursor.spans + MAX_SPANS_PER_TICK)
    closed = []
    for span in spans[cursor.spans : end]:
        cursor.depth[span.span_id] = (
            (cursor.depth.get(span.parent_id, -1) + 1) if span.parent_id is not None else 0
        )
        if span.kind == "llm":
            cursor.send_ns[span.span_id] = int(span.attrs.get("send_ns", span.start_ns))
        cursor.open_spans[span.span_id] = span
    cursor.spans = end
    still_open = []
    for span_id, span in list(cursor.open_spans.items()):
        end_ns = span.end_ns
        if end_ns is not None:
            del cursor.open_spans[span_id]
            closed.append(_row(span, cursor.depth[span_id], end_ns))
        else:
            still_open.append(_row(span, cursor.depth[span_id], now_ns))
    return closed, still_open


def _row(span: Span, lane: int, end_ns: int) -> SpanRow:
    return SpanRow(
        span.span_id,
        span.name,
        span.kind,
        lane,
        span.start_ns / NS_PER_S,
        max(end_ns, span.start_ns) / NS_PER_S,
        span_kind_color(span.kind),
    )


def _read_tokens(recording: Recording, cursor: LiveCursor) -> list[TokenRow]:
    events = recording.tokens
    end = min(len(events), cursor.tokens + MAX_TOKENS_PER_TICK)
    bins: dict[tuple[int, int], int] = {}
    for event in events[cursor.tokens : end]:
        cursor.total_tokens += event.n_tokens
        cursor.recent.append((event.t_ns, event.n_tokens))
        if event.n_tokens > 0 and event.request_id not in cursor.answered:
            # TTFT counts the first chunk with content (DESIGN.md); the final metrics refine it.
            cursor.answered.add(event.request_id)
            send = cursor.send_ns.get(event.request_id)
            if send is not None:
                bisect.insort(cursor.ttfts_ms, (event.t_ns - send) / 1e6)
        key = (event.request_id, event.t_ns // TOKEN_BIN_NS)
        bins[key] = bins.get(key, 0) + event.n_tokens
    cursor.tokens = end
    return [
        TokenRow((slot + 0.5) * TOKEN_BIN_NS / NS_PER_S, cursor.depth.get(request_id, 0), n)
        for (request_id, slot), n in bins.items()
    ]


def _read_counters(recording: Recording, cursor: LiveCursor) -> None:
    points = recording.counters
    end = min(len(points), cursor.counters + MAX_COUNTERS_PER_TICK)
    for point in points[cursor.counters : end]:
        cursor.latest[point.series] = point.value
    cursor.counters = end


def _median(ordered: list[float]) -> float | None:
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
