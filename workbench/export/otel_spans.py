"""A run as OpenTelemetry spans, before any SDK sees them: the cell as the root, the pipeline stages and
LLM requests under it with their parents kept, all on wall-clock Unix nanoseconds.

A run's times are nanoseconds since its start; `origin_wall_s` is the wall-clock time of that start, so
a span's Unix time is the anchor plus its offset, computed once here (`wall_ns`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.analysis.per_request import RequestMetrics, all_request_metrics
from workbench.export import otel_genai as genai
from workbench.export.otel_ids import ROOT_KEY
from workbench.model.events import Span
from workbench.model.run import Run

# Attributes that hold content (kept only under --capture-text): never exported.
CONTENT_ATTRS = frozenset({"prompt", "text", "output", "completion"})
MAX_ATTR_CHARS = 1000
INT64 = 2**63


@dataclass(frozen=True)
class OtelEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OtelSpan:
    """`key` is the run's `span_id` (`ROOT_KEY` for a root the run did not record); times are Unix ns."""

    key: int
    parent_key: int | None
    name: str
    client: bool
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: tuple[OtelEvent, ...] = ()
    error: str | None = None


def wall_ns(run: Run, t_ns: int) -> int:
    """The Unix time in ns of run-clock time `t_ns`."""
    return round(run.origin_wall_s * 1e9) + t_ns


def otel_spans(run: Run, measured: Sequence[RequestMetrics] | None = None) -> list[OtelSpan]:
    """Every span of the run, parents before their children; the first one is the root (the cell).
    `measured` is `all_request_metrics(run.recording)` when the caller has it already."""
    spans = {s.span_id: s for s in run.recording.spans}
    root = _root_span(run)
    if measured is None:
        measured = all_request_metrics(run.recording)
    requests = {r.request_id: r for r in measured}
    children: dict[int, list[Span]] = defaultdict(list)
    for span in sorted(spans.values(), key=lambda s: (s.start_ns, s.span_id)):
        if span.span_id == root.key:
            continue
        parent = span.parent_id if span.parent_id in spans and span.parent_id != span.span_id else None
        children[root.key if parent is None else parent].append(span)
    out = [root]
    seen = {root.key}
    stack = list(reversed(children[root.key]))
    while stack:
        span = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        parent = span.parent_id if span.parent_id in seen else root.key
        out.append(_span(run, span, parent, requests.get(span.span_id)))
        stack.extend(reversed(children[span.span_id]))
    # A parent chain that never reaches the root (a damaged run) hangs under the root.
    for span in spans.values():
        if span.span_id not in seen:
            out.append(_span(run, span, root.key, requests.get(span.span_id)))
    return out


def _root_span(run: Run) -> OtelSpan:
    cells = [s for s in run.recording.spans if s.kind == "cell" and s.parent_id is None]
    own = cells[0] if len(cells) == 1 else None
    start = 0 if own is None else own.start_ns
    end = run.duration_ns if own is None or own.end_ns is None else own.end_ns
    attributes = {
        "fm_workbench.run.id": run.id,
        "fm_workbench.run.name": run.name,
        "fm_workbench.run.status": run.status,
        "fm_workbench.span.kind": "cell",
    }
    events = tuple(
        OtelEvent("fm_workbench.note", wall_ns(run, note.t_ns), {"fm_workbench.note.text": note.text})
        for note in run.annotations
        if note.t_ns is not None
    )
    return OtelSpan(
        key=ROOT_KEY if own is None else own.span_id,
        parent_key=None,
        name=run.name,
        client=False,
        start_ns=wall_ns(run, start),
        end_ns=wall_ns(run, max(end, start)),
        attributes=attributes,
        events=events,
        error=run.error,
    )


def _span(run: Run, span: Span, parent: int, request: RequestMetrics | None) -> OtelSpan:
    end = run.duration_ns if span.end_ns is None else span.end_ns
    attributes = {"fm_workbench.span.kind": span.kind, "fm_workbench.span.id": span.span_id}
    attributes.update(_own_attributes(span.attrs))
    name, client = span.name, False
    events: tuple[OtelEvent, ...] = ()
    if genai.is_genai(span):
        name = genai.span_name(span)
        client = span.attrs.get("source") in genai.OPENAI_SOURCES
        attributes.update(genai.span_attributes(span, request))
        if name != span.name:
            attributes["fm_workbench.span.name"] = span.name
        events = _first_chunk(run, span, request)
    error = span.attrs.get("error")
    return OtelSpan(
        key=span.span_id,
        parent_key=parent,
        name=name,
        client=client,
        start_ns=wall_ns(run, span.start_ns),
        end_ns=wall_ns(run, max(end, span.start_ns)),
        attributes=attributes,
        events=events,
        error=None if error is None else str(error)[:300],
    )


def _first_chunk(run: Run, span: Span, request: RequestMetrics | None) -> tuple[OtelEvent, ...]:
    if request is None:
        return ()
    ttfc = genai.time_to_first_chunk_s(span, request)
    if ttfc is None or request.first_token_ns is None:
        return ()
    attributes: dict[str, Any] = {genai.TIME_TO_FIRST_CHUNK: ttfc}
    if request.tokens_per_chunk:
        attributes["fm_workbench.tokens"] = request.tokens_per_chunk[0]
    return (OtelEvent(genai.FIRST_CHUNK_EVENT, wall_ns(run, request.first_token_ns), attributes),)


def _own_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """The span's own attributes under `fm_workbench.attr.`, as OpenTelemetry attribute values."""
    out = {}
    for key, value in attrs.items():
        if key in CONTENT_ATTRS:
            continue
        converted = attribute_value(value)
        if converted is not None:
            out[f"fm_workbench.attr.{key}"] = converted
    return out


def attribute_value(value: Any) -> Any:
    """A str, bool, int, float or a list of one of them; anything else as (truncated) JSON text."""
    if value is None:
        return None
    if isinstance(value, bool | str | float):
        return value[:MAX_ATTR_CHARS] if isinstance(value, str) else value
    if isinstance(value, int):
        return value if -INT64 <= value < INT64 else str(value)
    if isinstance(value, list | tuple) and value:
        kinds = {type(v) for v in value}
        fits = kinds != {int} or all(-INT64 <= v < INT64 for v in value)
        if len(kinds) == 1 and kinds <= {bool, str, float, int} and fits:
            return list(value)
    return json.dumps(value, default=str)[:MAX_ATTR_CHARS]
