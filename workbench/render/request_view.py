"""The request waterfall's view-model: one row per LLM request on the run clock, split into its phases.

    span start -[queue]-> connect start -[connect]-> send -[headers]-> headers -[first_token]-> first token
      -[decode]-> last token -[tail]-> span end

Phases as in `analysis/breakdown.py`. A request without wire timings (a manual `wb.llm_request`, or
`generate()`) has no send time of its own: it shows send -> first token -> last token only. A request that
ended before a later timestamp (it failed, or got no token) shows the phase it was in until its span ended.
x is milliseconds since the run started; row 0 is the top row, the earliest request. Within a row the
request's label sits in the upper part (`LABEL_Y`), its phases and markers below it (`BAR_TOP`..`BAR_BOTTOM`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields
from typing import Any

from workbench.analysis.concurrency import in_flight_summary, requests_in_flight, requests_on_the_wire
from workbench.analysis.per_request import RequestMetrics, all_request_metrics
from workbench.model.events import Span
from workbench.model.run import Run
from workbench.render.palette import PHASE_TITLES, phase_color

NS_PER_MS = 1e6
MAX_REQUESTS = 200
LABEL_Y = 0.3
BAR_TOP = 0.48
BAR_BOTTOM = 0.9
MARKERS = {"send": "triangle", "first token": "circle", "last token": "square"}


@dataclass(frozen=True)
class RequestInfo:
    """What the hover says about a request, on every shape of its row."""

    request_id: int
    row: int
    label: str
    model: str
    status: str
    error: str
    failed: bool
    wire: bool
    start_ms: float
    end_ms: float
    ttft_ms: float
    tpot_ms: float
    e2e_ms: float
    tokens: str


@dataclass(frozen=True)
class WaterfallSegment:
    request_id: int
    row: int
    phase: str
    phase_title: str
    start_ms: float
    end_ms: float
    duration_ms: float
    color: str


@dataclass(frozen=True)
class WaterfallMarker:
    request_id: int
    row: int
    event: str
    t_ms: float
    marker: str


@dataclass(frozen=True)
class WaterfallView:
    requests: list[RequestInfo]
    segments: list[WaterfallSegment]
    markers: list[WaterfallMarker]
    total_requests: int

    @property
    def empty(self) -> bool:
        return not self.requests

    @property
    def capped(self) -> bool:
        return self.total_requests > len(self.requests)

    @classmethod
    def from_run(cls, run: Run, max_requests: int = MAX_REQUESTS) -> WaterfallView:
        rec = run.recording
        spans = {s.span_id: s for s in rec.spans if s.kind == "llm"}
        metrics = all_request_metrics(rec)
        end_ns = run.last_event_ns
        view = cls([], [], [], total_requests=len(metrics))
        for row, m in enumerate(metrics[:max_requests]):
            span = spans[m.request_id]
            view.requests.append(request_info(span, m, row, end_ns))
            view.segments.extend(segments(span, m, row, end_ns))
            view.markers.extend(markers(m, row))
        return view

    def request_columns(self) -> dict[str, list[Any]]:
        """One whole-request bar per row, with the same columns as the segments so one hover fits both."""
        data = self._joined(_columns(self.requests, RequestInfo))
        data["phase_title"] = ["whole request (span)"] * len(self.requests)
        data["duration_ms"] = [r.end_ms - r.start_ms for r in self.requests]
        # Generic names the label-fitting code expects.
        data["x0"], data["x1"] = data["start_ms"], data["end_ms"]
        data["y"] = [r.row + LABEL_Y for r in self.requests]
        return data

    def segment_columns(self) -> dict[str, list[Any]]:
        return self._joined(_columns(self.segments, WaterfallSegment))

    def marker_columns(self) -> dict[str, list[Any]]:
        data = self._joined(_columns(self.markers, WaterfallMarker))
        data["y"] = [m.row + (BAR_TOP + BAR_BOTTOM) / 2 for m in self.markers]
        return data

    def _joined(self, data: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """`data` with each row's request details beside it, for the hover."""
        by_id = {r.request_id: r for r in self.requests}
        rows = [by_id[i] for i in data["request_id"]]
        for name in ("label", "model", "status", "error", "ttft_ms", "tpot_ms", "e2e_ms", "tokens"):
            data[name] = [getattr(r, name) for r in rows]
        # Formatted for the hover, where a NaN would read "NaN".
        for name, digits in (("ttft", 1), ("tpot", 2), ("e2e", 1)):
            data[name] = [_format_ms(getattr(r, f"{name}_ms"), digits) for r in rows]
        return data


def _columns(rows: list[Any], kind: type) -> dict[str, list[Any]]:
    return {f.name: [getattr(row, f.name) for row in rows] for f in fields(kind)}


def _attr_ns(span: Span, key: str) -> int | None:
    value = span.attrs.get(key)
    return None if value is None else int(value)


def _format_ms(value: float, digits: int) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f} ms"


def _nan(value: float | None) -> float:
    # Bokeh shows NaN as "NaN" in a hover and draws it as a gap; None would not serialise in a number column.
    return math.nan if value is None else value


def request_info(span: Span, m: RequestMetrics, row: int, run_end_ns: int) -> RequestInfo:
    end_ns = run_end_ns if span.end_ns is None else max(span.end_ns, span.start_ns)
    error = str(span.attrs.get("error") or "")
    status = "failed" if m.failed else ("open at run end" if span.end_ns is None else "ok")
    return RequestInfo(
        request_id=m.request_id,
        row=row,
        label=f"{m.name} #{m.request_id}",
        model=m.model or "",
        status=status,
        error=error,
        failed=m.failed,
        wire=_attr_ns(span, "send_ns") is not None,
        start_ms=span.start_ns / NS_PER_MS,
        end_ms=end_ns / NS_PER_MS,
        ttft_ms=_nan(m.ttft_ms),
        tpot_ms=_nan(m.tpot_ms),
        e2e_ms=_nan(m.e2e_ms),
        tokens=tokens_phrase(m),
    )


def tokens_phrase(m: RequestMetrics) -> str:
    out = f"{m.output_tokens} ({m.token_count_source})"
    if m.count_mismatch:
        out += f", the client counted {m.client_tokens}"
    return out


def phase_points(span: Span, m: RequestMetrics, run_end_ns: int) -> list[tuple[str, int]]:
    """(phase, time it starts) in order, ending with ("end", time); phases not observed are left out."""
    end = run_end_ns if span.end_ns is None else max(span.end_ns, span.start_ns)
    first, last = m.first_token_ns, m.last_token_ns
    send = _attr_ns(span, "send_ns")
    if send is None:
        # No wire timings: the request's send is its span's start, and only the token arrivals are known.
        if first is None or last is None:
            return []
        return [("first_token", m.send_ns), ("decode", first), ("end", last)]
    connect_start = _attr_ns(span, "connect_start_ns")
    points = [("queue", span.start_ns), ("connect", connect_start if connect_start is not None else send)]
    points.append(("headers", send))
    headers = _attr_ns(span, "headers_ns")
    if headers is not None:
        points.append(("first_token", headers))
    if first is not None and last is not None:
        points += [("decode", first), ("tail", last)]
    return [*points, ("end", end)]


def segments(span: Span, m: RequestMetrics, row: int, run_end_ns: int) -> list[WaterfallSegment]:
    points = phase_points(span, m, run_end_ns)
    out = []
    for (phase, start), (_, stop) in itertools.pairwise(points):
        if stop <= start:
            continue  # a phase that took no time (a reused connection, a non-streamed body's decode)
        out.append(
            WaterfallSegment(
                request_id=m.request_id,
                row=row,
                phase=phase,
                phase_title=PHASE_TITLES[phase],
                start_ms=start / NS_PER_MS,
                end_ms=stop / NS_PER_MS,
                duration_ms=(stop - start) / NS_PER_MS,
                color=phase_color(phase),
            )
        )
    return out


def markers(m: RequestMetrics, row: int) -> list[WaterfallMarker]:
    events = [("send", m.send_ns), ("first token", m.first_token_ns), ("last token", m.last_token_ns)]
    return [
        WaterfallMarker(m.request_id, row, event, t_ns / NS_PER_MS, MARKERS[event])
        for event, t_ns in events
        if t_ns is not None
    ]


@dataclass(frozen=True)
class InFlightView:
    """Requests in flight as a step line: `count[i]` holds from `t_ms[i]` to `t_ms[i + 1]`; the same for
    requests on the wire (counted from their send), which stays lower when the client holds requests back."""

    t_ms: list[float]
    count: list[int]
    max_in_flight: int
    mean_in_flight: float | None
    wire_t_ms: list[float]
    wire_count: list[int]
    max_on_the_wire: int

    @property
    def empty(self) -> bool:
        return self.max_in_flight == 0

    @property
    def held_back(self) -> bool:
        """Whether the client kept requests from the wire for long enough to show."""
        return self.max_on_the_wire < self.max_in_flight

    @classmethod
    def from_run(cls, run: Run) -> InFlightView:
        rec = run.recording
        end_ms = run.last_event_ns / NS_PER_MS
        series = requests_in_flight(rec)
        t_ms, count = _steps(series, end_ms)
        wire_t_ms, wire_count = _steps(requests_on_the_wire(rec), end_ms)
        # The same summary as metrics["tokens"]["concurrency"], from the same series.
        mean = in_flight_summary(series)["mean_in_flight"]
        return cls(
            t_ms=t_ms,
            count=count,
            max_in_flight=max(count),
            mean_in_flight=None if mean is None else float(mean),
            wire_t_ms=wire_t_ms,
            wire_count=wire_count,
            max_on_the_wire=max(wire_count),
        )

    def wire_columns(self) -> dict[str, list[Any]]:
        return {"t_ms": self.wire_t_ms, "count": self.wire_count}

    def columns(self) -> dict[str, list[Any]]:
        return {"t_ms": self.t_ms, "count": self.count}


def _steps(series: list[tuple[int, int]], end_ms: float) -> tuple[list[float], list[int]]:
    """A step series in ms that starts at 0 and reaches the end of the run."""
    t_ms = [t / NS_PER_MS for t, _ in series]
    count = [c for _, c in series]
    if not t_ms or t_ms[0] > 0:
        t_ms.insert(0, 0.0)
        count.insert(0, 0)
    if t_ms[-1] < end_ms:
        t_ms.append(end_ms)
        count.append(count[-1])
    return t_ms, count
