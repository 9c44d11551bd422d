"""Send a run to an OpenTelemetry backend over OTLP/HTTP (protobuf), through `opentelemetry-sdk` and its
OTLP/HTTP exporters: the spans of `otel_spans` as one trace, and the GenAI client metrics of
`otel_metrics` as histograms covering the run's wall-clock window.

Each export builds its own TracerProvider and MeterProvider (the process's global providers, which the
user's own instrumentation may own, are never read or set) and gives every span its recorded start and
end time. The export is bounded by `timeout_s` per request, and any failure (no SDK, an endpoint that
cannot be reached, an answer other than 2xx) is an `OtlpExportError` with a one-line message; except that a
backend which takes traces only (Arize Phoenix answers `/v1/metrics` with 405) is told apart: once the spans
have landed, a 404, 405 or 501 for the metrics is a note in the result, not a failure.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from typing import TYPE_CHECKING, Any

from workbench.analysis.per_request import RequestMetrics, all_request_metrics
from workbench.export.otel_endpoint import EndpointError, Endpoints, resolve
from workbench.export.otel_ids import span_id, trace_id
from workbench.export.otel_metrics import INSTRUMENTS, observations
from workbench.export.otel_spans import otel_spans, wall_ns
from workbench.model.run import Run

if TYPE_CHECKING:
    import requests
    from opentelemetry.sdk.metrics.export import MetricsData
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan

SERVICE_NAME_ENV = "OTEL_SERVICE_NAME"
DEFAULT_SERVICE_NAME = "fm-workbench"
DEFAULT_TIMEOUT_S = 5.0
SPAN_BATCH = 2000
# Answers to `/v1/metrics` that mean "no metrics receiver here" (a traces-only backend), not a failure.
NO_METRICS_RECEIVER = frozenset({404, 405, 501})
INSTALL_HINT = "pip install 'fm-workbench[otel]'"
# The exporters' loggers: their messages for our own exports become the error we raise instead.
EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.common.http",
)


class OtlpExportError(RuntimeError):
    """The export did not reach the backend; the message is one line."""


@dataclass(frozen=True)
class OtlpResult:
    run_id: str
    trace_id: str
    spans: int
    metric_points: int
    endpoints: Endpoints
    metrics_refused: str | None = None
    """Why the metric points were not sent, when the backend takes traces only (`…/v1/metrics answered
    HTTP 405 Method Not Allowed`); None when they were sent, or there were none."""

    def message(self) -> str:
        metrics = f"{self.metric_points} metric points"
        if self.metrics_refused:
            metrics += f" not sent ({self.metrics_refused}: traces only)"
        return (
            f"exported run {self.run_id} to {self.endpoints}: {self.spans} spans in trace {self.trace_id}, "
            f"{metrics}"
        )


def export_run(run: Run, endpoint: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> OtlpResult:
    """Send `run` to `endpoint` (a base URL; None: $OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4318)."""
    try:
        endpoints = resolve(endpoint)
    except EndpointError as error:
        raise OtlpExportError(str(error)) from None
    try:
        # Is the `otel` extra installed?
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: F401
        from opentelemetry.sdk.resources import Resource  # noqa: F401
    except ImportError as error:
        raise OtlpExportError(f"OTLP export needs the OpenTelemetry SDK ({error}); {INSTALL_HINT}") from None
    resource = _resource(run)
    measured = all_request_metrics(run.recording)
    with _exporter_logs_silenced():
        spans = _finished_spans(run, resource, measured)
        _send_spans(spans, endpoints.traces, timeout_s)
        metrics = _metrics_data(run, resource, measured)
        points = _count_points(metrics)
        refused = _send_metrics(metrics, endpoints.metrics, timeout_s) if points else None
    return OtlpResult(run.id, f"{trace_id(run.id):032x}", len(spans), points, endpoints, refused)


def _version() -> str | None:
    try:
        return metadata.version("fm-workbench")
    except metadata.PackageNotFoundError:
        return None


def _resource(run: Run) -> Resource:
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    # OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME are read by Resource.create; without a name there,
    # the service is ours.
    service = str(Resource.create({}).attributes.get(SERVICE_NAME, ""))
    if os.environ.get(SERVICE_NAME_ENV):
        service = os.environ[SERVICE_NAME_ENV]
    elif not service or service.startswith("unknown_service"):
        service = DEFAULT_SERVICE_NAME
    attributes = {SERVICE_NAME: service, "fm_workbench.run.id": run.id, "fm_workbench.run.name": run.name}
    return Resource.create(attributes)


def _finished_spans(run: Run, resource: Resource, measured: Sequence[RequestMetrics]) -> list[ReadableSpan]:
    """The run's spans, started and ended at their recorded times by a private TracerProvider."""
    from opentelemetry import trace
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON
    from opentelemetry.trace import Status, StatusCode

    ids, collected = _sdk_helpers(trace_id(run.id))
    provider = TracerProvider(sampler=ALWAYS_ON, resource=resource, shutdown_on_exit=False, id_generator=ids)
    provider.add_span_processor(collected)
    tracer = provider.get_tracer("fm-workbench", _version())
    planned = otel_spans(run, measured)
    live: dict[int, trace.Span] = {}
    for item in planned:
        ids.next_span_id = span_id(run.id, item.key)
        parent = Context() if item.parent_key is None else trace.set_span_in_context(live[item.parent_key])
        kind = trace.SpanKind.CLIENT if item.client else trace.SpanKind.INTERNAL
        span = tracer.start_span(
            item.name, context=parent, kind=kind, attributes=item.attributes, start_time=item.start_ns
        )
        for event in item.events:
            span.add_event(event.name, event.attributes, timestamp=event.time_ns)
        if item.error is not None:
            span.set_status(Status(StatusCode.ERROR, item.error))
        live[item.key] = span
    for item in reversed(planned):
        live[item.key].end(end_time=item.end_ns)
    provider.shutdown()
    spans: list[ReadableSpan] = collected.spans
    return spans


def _send_spans(spans: Sequence[ReadableSpan], url: str, timeout_s: float) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    outcome = _Outcome()
    exporter = OTLPSpanExporter(endpoint=url, timeout=timeout_s, session=_recording_session(outcome))
    try:
        for start in range(0, len(spans), SPAN_BATCH):
            result = exporter.export(spans[start : start + SPAN_BATCH])
            outcome.check(result is SpanExportResult.SUCCESS, url)
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]


def _metrics_data(run: Run, resource: Resource, measured: Sequence[RequestMetrics]) -> MetricsData | None:
    """The run's GenAI histograms from a private MeterProvider, stamped with the run's wall-clock window."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)
    meter = provider.get_meter("fm-workbench", _version())
    histograms = {
        i.name: meter.create_histogram(
            i.name, unit=i.unit, description=i.description, explicit_bucket_boundaries_advisory=i.buckets
        )
        for i in INSTRUMENTS
    }
    for point in observations(run, measured):
        histograms[point.instrument].record(point.value, point.attributes)
    data = reader.get_metrics_data()
    provider.shutdown()
    if data is None:
        return None
    return _stamped(data, wall_ns(run, 0), wall_ns(run, max(run.duration_ns, 0)))


def _stamped(data: MetricsData, start_ns: int, end_ns: int) -> MetricsData:
    """`data` with every point's window set to the run's (the SDK stamps the time of the collection)."""
    resource_metrics = []
    for rm in data.resource_metrics:
        scopes = []
        for sm in rm.scope_metrics:
            metrics = []
            for metric in sm.metrics:
                points = [
                    replace(p, start_time_unix_nano=start_ns, time_unix_nano=end_ns)
                    for p in metric.data.data_points
                ]
                series: Any = metric.data
                metrics.append(replace(metric, data=replace(series, data_points=points)))
            scopes.append(replace(sm, metrics=metrics))
        resource_metrics.append(replace(rm, scope_metrics=scopes))
    return replace(data, resource_metrics=resource_metrics)


def _count_points(data: MetricsData | None) -> int:
    if data is None:
        return 0
    return sum(
        len(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    )


def _send_metrics(data: MetricsData | None, url: str, timeout_s: float) -> str | None:
    """Send the metrics; the problem, when the backend has no metrics receiver (None when they landed)."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import MetricExportResult

    assert data is not None
    outcome = _Outcome()
    exporter = OTLPMetricExporter(endpoint=url, timeout=timeout_s, session=_recording_session(outcome))
    try:
        result = exporter.export(data, timeout_millis=timeout_s * 1000)
        if result is not MetricExportResult.SUCCESS and outcome.status in NO_METRICS_RECEIVER:
            return (outcome.problem or "").strip()
        outcome.check(result is MetricExportResult.SUCCESS, url)
        return None
    finally:
        exporter.shutdown()


def _sdk_helpers(trace: int) -> tuple[Any, Any]:
    """An IdGenerator handing out the ids `otel_ids` derives (so a span's ids are known before the export),
    and a span processor keeping the ended spans, to be exported in a few batches."""
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class PresetIds(IdGenerator):
        next_span_id = 0

        def generate_trace_id(self) -> int:
            return trace

        def generate_span_id(self) -> int:
            return self.next_span_id

    class Collected(SpanProcessor):
        def __init__(self) -> None:
            self.spans: list[ReadableSpan] = []

        def on_end(self, span: ReadableSpan) -> None:
            self.spans.append(span)

    return PresetIds(), Collected()


class _Outcome:
    """What the last request of an exporter's session ended with, for the one-line error."""

    def __init__(self) -> None:
        self.problem: str | None = None
        self.status: int | None = None

    def check(self, success: bool, url: str) -> None:
        if not success or self.problem is not None:
            raise OtlpExportError((self.problem or f"the export to {url} failed").strip())


def _recording_session(outcome: _Outcome) -> requests.Session:
    """A `requests.Session` (what the OTLP/HTTP exporters send with) that tells `outcome` how it went."""
    import requests

    class RecordingSession(requests.Session):
        def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
            try:
                response = super().request(method, url, *args, **kwargs)
            except Exception as error:
                outcome.problem, outcome.status = f"could not reach {url}: {_reason(error)}", None
                raise
            status = outcome.status = response.status_code
            ok = 200 <= status < 300
            outcome.problem = None if ok else f"{url} answered HTTP {status} {response.reason or ''}"
            return response

    return RecordingSession()


def _reason(error: BaseException) -> str:
    """The useful end of a requests/urllib3 error: "[Errno 111] Connection refused" gives its text."""
    text = str(error)
    errno = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return str(errno[-1]).strip()
    if "timed out" in text.lower():
        return "timed out"
    return type(error).__name__


@contextlib.contextmanager
def _exporter_logs_silenced() -> Iterator[None]:
    """Drop the exporters' log records from this thread (they become our one-line error), and only those:
    the user's own exporters, on other threads, log as they always do."""
    me = threading.get_ident()

    def others_only(record: logging.LogRecord) -> bool:
        return record.thread != me

    loggers = [logging.getLogger(name) for name in EXPORTER_LOGGERS]
    for logger in loggers:
        logger.addFilter(others_only)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(others_only)
