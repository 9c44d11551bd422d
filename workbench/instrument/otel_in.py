"""OpenTelemetry in: spans of an already-instrumented app (OpenInference for LangChain, LlamaIndex, openai;
`opentelemetry-instrumentation-openai-v2`; any other) recorded into the active run as pipeline spans.

One `SpanProcessor` is added to the global TracerProvider when it is the SDK's (the user's provider is
never replaced, and their exporters keep working). The processor stays on the provider for the process's
life (the SDK cannot remove one) and records only while a run is attached to it.

- Times are the span's Unix ns, put on the run clock once here (`RunClock.from_unix_ns`).
- Parents: an OTel span whose parent is another recorded OTel span nests under it; a root OTel span nests
  under the workbench span that was current where it started (a `wb.span`, else the cell).
- No double counting: an LLM or embedding span that stands for a request the workbench's own hooks
  captured (overlapping in time, same model) is merged into that request: one request, with the OTel
  span's name, ids and attributes, moved under the OTel span's parent. An LLM span that wraps another
  (LangChain's ChatOpenAI around the openai SDK's span) is a `chain` stage, not a second request.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any

from workbench.active import Recorder
from workbench.instrument import otel_map
from workbench.model.events import Span

OPENAI_SOURCES = frozenset({"openai", "httpx", "httpx2"})
# How far our request's and the OTel span's windows may disagree (the OTel span starts inside our call).
MATCH_SLACK_NS = 5_000_000
MATCH_SCAN = 2_000
_installed: weakref.WeakKeyDictionary[Any, _Processor] = weakref.WeakKeyDictionary()


def sdk_provider() -> tuple[Any | None, str]:
    """The global TracerProvider if it is the SDK's, else None and why not (without importing OTel)."""
    if "opentelemetry.sdk.trace" not in sys.modules:
        return None, "no OpenTelemetry SDK TracerProvider is set (opentelemetry.sdk is not imported)"
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return None, (
            f"the global TracerProvider is a {type(provider).__name__}, not the SDK's: set one with "
            "trace.set_tracer_provider(opentelemetry.sdk.trace.TracerProvider()) before instrumenting"
        )
    return provider, ""


class _Sink:
    """One run's view of the OTel spans: their ids on the run, and the merging of requests."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.lock = threading.Lock()
        self.ids: dict[int, int] = {}  # OTel span id -> our span id (reserved when it started)
        self.start_parent: dict[int, int | None] = {}  # our span current where it started
        self.threads: dict[int, int] = {}
        self.alias: dict[int, int] = {}  # a merged OTel span's reserved id -> our request's id
        self.llm_below: set[int] = set()  # OTel spans with an LLM span under them
        self.otel_parent: dict[int, int | None] = {}
        self.recorded = 0
        self.merged = 0

    def on_start(self, span: Any) -> None:
        context = span.get_span_context()
        parent = span.parent.span_id if span.parent is not None else None
        with self.lock:
            self.ids[context.span_id] = self.recorder.reserve_span_id()
            self.start_parent[context.span_id] = self.recorder.current_parent_id()
            self.threads[context.span_id] = threading.get_ident()
            self.otel_parent[context.span_id] = parent

    def on_end(self, span: Any) -> None:
        if span.start_time is None or span.end_time is None:
            return
        attributes = dict(span.attributes or {})
        kind = otel_map.span_kind(attributes)
        otel_id = span.get_span_context().span_id
        parent = span.parent.span_id if span.parent is not None else None
        with self.lock:
            if otel_id not in self.ids:  # started before the run
                self.ids[otel_id] = self.recorder.reserve_span_id()
                self.otel_parent[otel_id] = parent
            if kind in otel_map.REQUEST_KINDS:
                self._mark_ancestors(otel_id)
                if otel_id in self.llm_below:
                    kind = "chain"  # a wrapper of the request below it, not a second request
                elif self._merge(span, attributes):
                    return
            self._record(span, attributes, kind, otel_id, parent)

    def _mark_ancestors(self, otel_id: int) -> None:
        parent = self.otel_parent.get(otel_id)
        while parent is not None and parent not in self.llm_below:
            self.llm_below.add(parent)
            parent = self.otel_parent.get(parent)

    def _parent(self, otel_id: int, otel_parent: int | None) -> int | None:
        if otel_parent is not None and otel_parent in self.ids:
            reserved = self.ids[otel_parent]
            return self.alias.get(reserved, reserved)
        parent = self.start_parent.get(otel_id)
        return parent if parent is not None else self.recorder.root_span_id

    def _times(self, span: Any) -> tuple[int, int, bool]:
        clock = self.recorder.clock
        start, end = clock.from_unix_ns(span.start_time), clock.from_unix_ns(span.end_time)
        return max(start, 0), max(end, start, 0), start < 0

    def _identity(self, span: Any, attributes: dict[str, Any]) -> dict[str, Any]:
        context = span.get_span_context()
        scope = getattr(span, "instrumentation_scope", None)
        out: dict[str, Any] = {
            "otel_name": span.name,
            "otel_trace_id": f"{context.trace_id:032x}",
            "otel_span_id": f"{context.span_id:016x}",
            "otel_kind": getattr(span.kind, "name", str(span.kind)),
            "otel_attributes": otel_map.kept_attributes(attributes, self.recorder.capture_text),
        }
        if scope is not None and getattr(scope, "name", None):
            out["otel_scope"] = scope.name
        oi_kind = attributes.get(otel_map.OPENINFERENCE_KIND)
        if isinstance(oi_kind, str):
            out["otel_span_kind"] = oi_kind
        status = getattr(span, "status", None)
        if status is not None and getattr(status.status_code, "name", "") == "ERROR":
            out["error"] = (status.description or "error")[:300]
        return out

    def _record(
        self, span: Any, attributes: dict[str, Any], kind: str, otel_id: int, parent: int | None
    ) -> None:
        start, end, early = self._times(span)
        attrs: dict[str, Any] = {"source": "otel", **otel_map.run_attributes(attributes)}
        attrs.update(self._identity(span, attributes))
        if early:
            attrs["started_before_run"] = True
        recorded = Span(
            span_id=self.ids[otel_id],
            name=span.name,
            kind=kind,
            start_ns=start,
            end_ns=end,
            parent_id=self._parent(otel_id, parent),
            thread_id=self.threads.get(otel_id, threading.get_ident()),
            attrs=attrs,
        )
        if self.recorder.recording.add_span(recorded):
            self.recorded += 1

    def _merge(self, span: Any, attributes: dict[str, Any]) -> bool:
        """Fold an OTel request span into the request our hooks captured, if there is one."""
        start, end, _ = self._times(span)
        ours = self._captured_request(start, end, otel_map.model_of(attributes))
        if ours is None:
            return False
        otel_id = span.get_span_context().span_id
        identity = self._identity(span, attributes)
        identity.pop("error", None)  # our own hook saw the request's outcome
        ours.attrs.update(identity)
        for key, value in otel_map.run_attributes(attributes).items():
            ours.attrs.setdefault(key, value)
        otel_parent = span.parent.span_id if span.parent is not None else None
        if otel_parent is not None and otel_parent in self.ids:
            ours.parent_id = self._parent(otel_id, otel_parent)
        self.alias[self.ids[otel_id]] = ours.span_id
        self.merged += 1
        return True

    def _captured_request(self, start: int, end: int, model: str | None) -> Span | None:
        now = self.recorder.clock.now_ns()
        best: tuple[int, Span] | None = None
        spans = self.recorder.recording.spans
        for candidate in reversed(spans[-MATCH_SCAN:]):
            attrs = candidate.attrs
            if candidate.kind not in otel_map.REQUEST_KINDS or attrs.get("source") not in OPENAI_SOURCES:
                continue
            if "otel_span_id" in attrs:
                continue
            if model is not None and model not in (attrs.get("model"), attrs.get("response_model")):
                continue
            candidate_end = now if candidate.end_ns is None else candidate.end_ns
            if candidate.start_ns > end + MATCH_SLACK_NS or candidate_end < start - MATCH_SLACK_NS:
                continue
            distance = abs(candidate.start_ns - start)
            if best is None or distance < best[0]:
                best = (distance, candidate)
        return None if best is None else best[1]

    def finish(self) -> None:
        """Children that ended before their OTel parent was merged into a request hang under the request."""
        if not self.alias:
            return
        for span in self.recorder.recording.spans:
            if span.parent_id in self.alias:
                span.parent_id = self.alias[span.parent_id]


def _processor_class() -> type:
    from opentelemetry.sdk.trace import SpanProcessor

    class Processor(SpanProcessor):  # type: ignore[misc]
        def __init__(self) -> None:
            self.sink: _Sink | None = None

        def on_start(self, span: Any, parent_context: Any = None) -> None:
            sink = self.sink
            if sink is not None:
                sink.on_start(span)

        def on_end(self, span: Any) -> None:
            sink = self.sink
            if sink is not None:
                sink.on_end(span)

        def shutdown(self) -> None:
            self.sink = None

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    return Processor


class _Processor:
    """What `_processor_class()` returns, for the type checker."""

    sink: _Sink | None


class OtelIn:
    """Attaches one run to the processor on the global SDK TracerProvider between start and stop."""

    name = "otel-in"

    def __init__(self) -> None:
        self._processor: _Processor | None = None
        self._sink: _Sink | None = None

    def is_available(self) -> tuple[bool, str]:
        provider, reason = sdk_provider()
        return provider is not None, reason

    def start(self, recorder: Recorder) -> None:
        provider, reason = sdk_provider()
        if provider is None:
            raise RuntimeError(reason)
        processor = _installed.get(provider)
        if processor is None:
            processor = _processor_class()()
            provider.add_span_processor(processor)
            _installed[provider] = processor
        self._sink = _Sink(recorder)
        processor.sink = self._sink
        self._processor = processor

    def stop(self) -> str:
        """Detach the run; a one-line summary of what was recorded."""
        processor, sink = self._processor, self._sink
        self._processor = self._sink = None
        if processor is None or sink is None:
            return ""
        if processor.sink is sink:
            processor.sink = None
        with sink.lock:
            sink.finish()
        return f"{sink.recorded} span(s) recorded, {sink.merged} merged into captured requests"
