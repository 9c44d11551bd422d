"""Servers' OpenTelemetry spans joined into a run, under the requests whose trace context they carry.

The workbench sends each captured request with a W3C `traceparent` naming the request's span as the OTLP
export names it (`workbench.export.otel_ids`): the run's trace id and the span's own id. A server that
joins the trace (vLLM's `llm_request` span, `workbench serve --otlp-spans`) makes its spans children of
that span. This reads such spans from a file in the OTLP JSON encoding (one `ExportTraceServiceRequest`
per line, as the OpenTelemetry Collector's file exporter writes, or one document), keeps those of the
run's trace, and adds them as `server` spans: each under its request (or under its server parent), its
Unix ns times moved onto the run clock (`clock.from_unix_ns`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.clock import from_unix_ns
from workbench.export.otel_ids import span_id, trace_id
from workbench.model.events import Span
from workbench.model.run import Run

SERVER_KIND = "server"
CONTENT_PREFIXES = (
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.input.",
    "gen_ai.output.",
    "input.",
    "output.",
)
MAX_TEXT = 300
SPAN_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


class ServerSpansError(ValueError):
    """The file cannot be read or is not OTLP JSON."""


@dataclass
class Joined:
    path: str
    joined: int = 0
    other_traces: int = 0
    orphans: int = 0

    def summary(self) -> str:
        return f"{self.joined} server span(s) joined from {self.path}"

    @property
    def notice(self) -> str:
        if self.joined:
            return ""
        return (
            f"no span in {self.path} belongs to this run's trace ({self.other_traces} of other traces): did "
            "the server receive the requests' traceparent (not with --no-propagate), and export its spans?"
        )


def read_otlp_json(path: str | Path) -> list[dict[str, Any]]:
    """Every span in the file, each with its resource's and scope's attributes beside it."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ServerSpansError(f"cannot read {path}: {error}") from None
    try:
        documents = [json.loads(text)]
    except ValueError:
        try:
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as error:
            raise ServerSpansError(f"{path} is not OTLP JSON: {error}") from None
    return [span for document in documents for span in _spans(document)]


def _spans(document: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(document, dict):
        return
    for resource_spans in document.get("resourceSpans") or []:
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans") or []:
            scope = (scope_spans.get("scope") or {}).get("name") or ""
            for span in scope_spans.get("spans") or []:
                if isinstance(span, dict):
                    yield {**span, "_resource": resource, "_scope": scope}


def _value(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_value(v) for v in (value["arrayValue"] or {}).get("values") or []]
    return None


def _attributes(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = _value(item.get("value"))
    return out


def _kept(attributes: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value[:MAX_TEXT] if isinstance(value, str) else value
        for key, value in attributes.items()
        if value is not None and not key.startswith(CONTENT_PREFIXES)
    }


def join_server_spans(run: Run, path: str | Path, new_id: Callable[[], int] | None = None) -> Joined:
    """Add the file's spans of `run`'s trace to its recording; `new_id` gives fresh span ids (default:
    after the largest the run has)."""
    spans = read_otlp_json(path)
    ours = f"{trace_id(run.id):032x}"
    requests = {f"{span_id(run.id, s.span_id):016x}": s.span_id for s in run.recording.spans}
    if new_id is None:
        counter = itertools.count(max((s.span_id for s in run.recording.spans), default=0) + 1)
        new_id = counter.__next__
    result = Joined(str(path))
    mine = [s for s in spans if str(s.get("traceId", "")).lower() == ours]
    result.other_traces = len(spans) - len(mine)
    ids = {str(s.get("spanId", "")).lower(): new_id() for s in mine}
    for span in mine:
        parent_hex = str(span.get("parentSpanId") or "").lower()
        parent = requests.get(parent_hex, ids.get(parent_hex))
        if parent is None:
            result.orphans += 1
            parent = _root(run)
        if run.recording.add_span(_server_span(run, span, ids[str(span.get("spanId", "")).lower()], parent)):
            result.joined += 1
    return result


def _root(run: Run) -> int | None:
    cells = [s.span_id for s in run.recording.spans if s.kind == "cell" and s.parent_id is None]
    return cells[0] if cells else None


def _server_span(run: Run, span: dict[str, Any], key: int, parent: int | None) -> Span:
    start = from_unix_ns(run.origin_wall_s, int(span.get("startTimeUnixNano") or 0))
    end = from_unix_ns(run.origin_wall_s, int(span.get("endTimeUnixNano") or 0))
    attributes = _attributes(span.get("attributes"))
    attrs: dict[str, Any] = {
        "source": "server",
        "otel_name": span.get("name") or "",
        "otel_trace_id": str(span.get("traceId", "")).lower(),
        "otel_span_id": str(span.get("spanId", "")).lower(),
        "otel_kind": SPAN_KINDS.get(int(span.get("kind") or 1), "INTERNAL"),
        "otel_attributes": _kept(attributes),
    }
    service = span["_resource"].get("service.name")
    if isinstance(service, str):
        attrs["service"] = service
    if span["_scope"]:
        attrs["otel_scope"] = span["_scope"]
    status = span.get("status") or {}
    if status.get("code") in (2, "STATUS_CODE_ERROR"):
        attrs["error"] = str(status.get("message") or "error")[:MAX_TEXT]
    return Span(
        span_id=key,
        name=str(span.get("name") or "server span"),
        kind=SERVER_KIND,
        start_ns=start,
        end_ns=max(end, start),
        parent_id=parent,
        thread_id=0,
        attrs=attrs,
    )
