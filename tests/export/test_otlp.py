"""OTLP export against a real OTLP/HTTP receiver: a local `http.server` that decodes the protobuf bodies
with the `opentelemetry.proto` classes, as a collector does. Checks the span tree, the GenAI attribute
names and values, wall-clock times (the run's anchor + offsets, in ns), the GenAI metrics, and that a
failure is one clear line."""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from workbench.export import OtlpExportError, export_run
from workbench.export.otel_ids import span_id, trace_id, traceparent
from workbench.model import Recording, Run, Span, TokenEvent

from .conftest import DURATION_NS, make_run

MS = 1_000_000
ANCHOR_S = 1_735_732_800.0
ANCHOR_NS = 1_735_732_800 * 1_000_000_000
RUN_ID = "20250102-090000-otel"


# -- the receiver ----------------------------------------------------------------------------------------
@dataclass
class Receiver:
    url: str = ""
    status: int = 200
    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    posts: list[tuple[str, str]] = field(default_factory=list)

    def spans(self) -> list[PbSpan]:
        return [s for r in self.traces for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]

    def resource(self) -> dict[str, Any]:
        return attributes(self.traces[0].resource_spans[0].resource.attributes)

    def metric(self, name: str) -> Any:
        found = [
            m
            for r in self.metrics
            for rm in r.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == name
        ]
        assert len(found) == 1, f"{name}: {len(found)} metrics"
        return found[0]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        receiver.posts.append((self.path, self.headers.get("Content-Type") or ""))
        if receiver.status != 200:
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        reply: Any
        if self.path == "/v1/traces":
            receiver.traces.append(ExportTraceServiceRequest.FromString(body))
            reply = ExportTraceServiceResponse()
        elif self.path == "/v1/metrics":
            receiver.metrics.append(ExportMetricsServiceRequest.FromString(body))
            reply = ExportMetricsServiceResponse()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = reply.SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    receiver: Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = Receiver(url=f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def value(any_value: AnyValue) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


def attributes(items: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in items if isinstance(kv, KeyValue)}


# -- a run with GenAI requests ---------------------------------------------------------------------------
def genai_run() -> Run:
    """cell > answer (chain) > three LLM requests (OpenAI SDK streamed, httpx failed, transformers), and a
    retrieval stage under the cell. Tokens of request 3 arrive at 10, 15, 20 ms (1, 2, 2 tokens)."""
    rec = Recording(threads={7: "MainThread"})
    rec.add_span(Span(1, "rag", "cell", 0, 50 * MS, None, 7))
    rec.add_span(Span(6, "retrieve", "retrieval", 1 * MS, 2 * MS, 1, 7, {"index": "faiss", "k": 3}))
    rec.add_span(Span(2, "answer", "chain", 2 * MS, 40 * MS, 1, 7))
    openai_attrs = {
        "source": "openai",
        "model": "m",
        "operation": "chat",
        "stream": True,
        "send_ns": 6 * MS,
        "max_tokens": 64,
        "temperature": 0.5,
        "input_tokens": 12,
        "usage_output_tokens": 5,
        "chunk_tokens": "usage",
        "response_model": "m-2024",
        "finish_reason": "stop",
        "prompt": "secret prompt text",
    }
    rec.add_span(Span(3, "chat m", "llm", 5 * MS, 30 * MS, 2, 7, openai_attrs))
    failed = {
        "source": "httpx",
        "model": "m",
        "operation": "text_completion",
        "stream": True,
        "error": "HTTP 500",
    }
    rec.add_span(Span(4, "text_completion m", "llm", 32 * MS, 35 * MS, 2, 7, failed))
    local = {"source": "transformers.generate", "model": "gpt2", "input_tokens": 4, "usage_output_tokens": 3}
    rec.add_span(Span(5, "generate gpt2", "llm", 36 * MS, 39 * MS, 2, 7, local))
    for t_ms, n in ((10, 1), (15, 2), (20, 2)):
        rec.add_token(TokenEvent(3, t_ms * MS, n))
    for t_ms in (37, 38, 39):
        rec.add_token(TokenEvent(5, t_ms * MS, 1))
    return Run(
        id=RUN_ID,
        name="rag",
        created="2025-01-02T09:00:00+00:00",
        duration_ns=50 * MS,
        origin_wall_s=ANCHOR_S,
        recording=rec,
    )


def by_name(spans: list[PbSpan]) -> dict[str, PbSpan]:
    return {s.name: s for s in spans}


def sid(key: int, run_id: str = RUN_ID) -> bytes:
    return span_id(run_id, key).to_bytes(8, "big")


# -- spans -------------------------------------------------------------------------------------------------
def test_the_span_tree_keeps_parents_and_wall_clock_times(receiver: Receiver) -> None:
    result = export_run(genai_run(), receiver.url)
    assert [path for path, _ in receiver.posts] == ["/v1/traces", "/v1/metrics"]
    assert all(kind == "application/x-protobuf" for _, kind in receiver.posts)
    spans = by_name(receiver.spans())
    assert set(spans) == {"rag", "retrieve", "answer", "chat m", "text_completion m", "text_completion gpt2"}
    assert result.spans == 6 and result.trace_id == f"{trace_id(RUN_ID):032x}"
    assert {s.trace_id for s in spans.values()} == {trace_id(RUN_ID).to_bytes(16, "big")}
    assert spans["rag"].parent_span_id == b"" and spans["rag"].span_id == sid(1)
    parents = {name: s.parent_span_id for name, s in spans.items() if name != "rag"}
    assert parents == {
        "retrieve": sid(1),
        "answer": sid(1),
        "chat m": sid(2),
        "text_completion m": sid(2),
        "text_completion gpt2": sid(2),
    }
    times = {name: (s.start_time_unix_nano, s.end_time_unix_nano) for name, s in spans.items()}
    assert times["rag"] == (ANCHOR_NS, ANCHOR_NS + 50 * MS)
    assert times["retrieve"] == (ANCHOR_NS + 1 * MS, ANCHOR_NS + 2 * MS)
    assert times["chat m"] == (ANCHOR_NS + 5 * MS, ANCHOR_NS + 30 * MS)
    assert times["text_completion gpt2"] == (ANCHOR_NS + 36 * MS, ANCHOR_NS + 39 * MS)


def test_resource_and_root_name_the_run(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    export_run(genai_run(), receiver.url)
    resource = receiver.resource()
    assert resource["service.name"] == "fm-workbench"
    assert resource["fm_workbench.run.id"] == RUN_ID and resource["fm_workbench.run.name"] == "rag"
    root = attributes(by_name(receiver.spans())["rag"].attributes)
    assert root["fm_workbench.run.id"] == RUN_ID and root["fm_workbench.span.kind"] == "cell"
    scope = receiver.traces[0].resource_spans[0].scope_spans[0].scope
    assert scope.name == "fm-workbench"


def test_llm_requests_carry_the_genai_conventions(receiver: Receiver) -> None:
    export_run(genai_run(), receiver.url)
    spans = by_name(receiver.spans())
    chat = spans["chat m"]
    attrs = attributes(chat.attributes)
    assert chat.kind == PbSpan.SPAN_KIND_CLIENT
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "m",
        "gen_ai.response.model": "m-2024",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.request.stream": True,
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.response.finish_reasons": ["stop"],
        "fm_workbench.span.kind": "llm",
    }
    assert {k: attrs.get(k) for k in expected} == expected
    # The conventions measure from the client issuing the request (span start, 5 ms); ours from the send.
    assert attrs["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.005)
    assert attrs["fm_workbench.ttft_ms"] == pytest.approx(4.0)
    assert not any("prompt" in key for key in attrs), "content must not be exported"
    [event] = chat.events
    assert event.name == "fm_workbench.first_chunk"
    assert event.time_unix_nano == ANCHOR_NS + 10 * MS
    assert attributes(event.attributes) == {
        "gen_ai.response.time_to_first_chunk": pytest.approx(0.005),
        "fm_workbench.tokens": 1,
    }
    assert chat.status.code == Status.STATUS_CODE_UNSET

    failed = spans["text_completion m"]
    assert failed.status.code == Status.STATUS_CODE_ERROR and failed.status.message == "HTTP 500"
    assert attributes(failed.attributes)["error.type"] == "500"
    assert not failed.events

    local = spans["text_completion gpt2"]
    local_attrs = attributes(local.attributes)
    assert local.kind == PbSpan.SPAN_KIND_INTERNAL
    assert local_attrs["gen_ai.operation.name"] == "text_completion"
    assert "gen_ai.provider.name" not in local_attrs  # not known for an in-process model
    assert local_attrs["fm_workbench.span.name"] == "generate gpt2"

    stage = attributes(spans["retrieve"].attributes)
    assert stage["fm_workbench.span.kind"] == "retrieval"
    assert stage["fm_workbench.attr.index"] == "faiss" and stage["fm_workbench.attr.k"] == 3


def test_a_run_without_a_cell_span_gets_a_root(receiver: Receiver) -> None:
    run = make_run()
    run.recording.spans = [s for s in run.recording.spans if s.kind != "cell"]
    export_run(run, receiver.url)
    spans = by_name(receiver.spans())
    root = spans["export-test"]
    assert root.parent_span_id == b"" and root.span_id == sid(0, run.id)
    assert (root.start_time_unix_nano, root.end_time_unix_nano) == (ANCHOR_NS, ANCHOR_NS + DURATION_NS)
    assert {s.parent_span_id for name, s in spans.items() if name != "export-test"} == {root.span_id}


def test_ids_are_the_runs_own(receiver: Receiver) -> None:
    export_run(genai_run(), receiver.url)
    export_run(genai_run(), receiver.url)
    first, second = (
        [(s.name, s.trace_id, s.span_id, s.parent_span_id) for s in r.resource_spans[0].scope_spans[0].spans]
        for r in receiver.traces
    )
    assert first == second
    header = traceparent(RUN_ID, 3)
    assert header == f"00-{trace_id(RUN_ID):032x}-{span_id(RUN_ID, 3):016x}-01"


def test_the_users_providers_and_current_span_are_left_alone(receiver: Receiver) -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.trace import TracerProvider

    global_tracer, global_meter = trace.get_tracer_provider(), metrics.get_meter_provider()
    users = TracerProvider()
    with users.get_tracer("app").start_as_current_span("user span"):
        export_run(genai_run(), receiver.url)
    assert trace.get_tracer_provider() is global_tracer and metrics.get_meter_provider() is global_meter
    root = by_name(receiver.spans())["rag"]
    assert root.parent_span_id == b"" and root.trace_id == trace_id(RUN_ID).to_bytes(16, "big")


# -- metrics -----------------------------------------------------------------------------------------------
def _points(metric: Any) -> dict[tuple[tuple[str, Any], ...], Any]:
    return {
        tuple(sorted((k, v) for k, v in attributes(p.attributes).items())): p
        for p in metric.histogram.data_points
    }


def test_genai_metrics_have_the_conventions_names_units_and_counts(receiver: Receiver) -> None:
    result = export_run(genai_run(), receiver.url)
    duration = receiver.metric("gen_ai.client.operation.duration")
    assert duration.unit == "s"
    points = list(duration.histogram.data_points)
    assert sorted(p.count for p in points) == [1, 1, 1]
    assert sorted(round(p.sum, 9) for p in points) == [0.003, 0.003, 0.025]
    errors = [attributes(p.attributes).get("error.type") for p in points]
    assert sorted(e for e in errors if e) == ["500"]
    assert list(points[0].explicit_bounds)[:3] == [0.01, 0.02, 0.04]
    for p in points:
        assert (p.start_time_unix_nano, p.time_unix_nano) == (ANCHOR_NS, ANCHOR_NS + 50 * MS)

    usage = receiver.metric("gen_ai.client.token.usage")
    assert usage.unit == "{token}"
    sums = {
        (
            attributes(p.attributes)["gen_ai.request.model"],
            attributes(p.attributes)["gen_ai.token.type"],
        ): p.sum
        for p in usage.histogram.data_points
    }
    assert sums == {("m", "input"): 12, ("m", "output"): 5, ("gpt2", "input"): 4, ("gpt2", "output"): 3}

    first = receiver.metric("gen_ai.client.operation.time_to_first_chunk")
    assert first.unit == "s"
    assert sorted(round(p.sum, 9) for p in first.histogram.data_points) == [0.001, 0.005]
    per_chunk = receiver.metric("gen_ai.client.operation.time_per_output_chunk")
    assert per_chunk.unit == "s"
    counts = {
        attributes(p.attributes)["gen_ai.request.model"]: (p.count, round(p.sum, 9))
        for p in per_chunk.histogram.data_points
    }
    assert counts == {"m": (2, 0.01), "gpt2": (2, 0.002)}
    assert result.metric_points == len(points) + 4 + 2 + 2
    chat_attrs = attributes(first.histogram.data_points[0].attributes)
    assert "gen_ai.operation.name" in chat_attrs


def test_a_run_without_requests_sends_no_metrics(receiver: Receiver) -> None:
    run = make_run()
    run.recording.spans = [s for s in run.recording.spans if s.kind != "llm"]
    run.recording.tokens = []
    result = export_run(run, receiver.url)
    assert result.metric_points == 0 and [p for p, _ in receiver.posts] == ["/v1/traces"]


# -- endpoints and failures --------------------------------------------------------------------------------
def test_the_standard_environment_variables_are_honoured(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url + "/")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "rag-service")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", raising=False)
    result = export_run(genai_run())
    assert [p for p, _ in receiver.posts] == ["/v1/traces", "/v1/metrics"]
    assert receiver.resource()["service.name"] == "rag-service"
    assert str(result.endpoints) == f"{receiver.url} (/v1/traces, /v1/metrics)"


def test_an_unreachable_endpoint_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = closed_port_url()
    with pytest.raises(OtlpExportError) as caught:
        export_run(genai_run(), url, timeout_s=1.0)
    message = str(caught.value)
    assert message == f"could not reach {url}/v1/traces: Connection refused"
    assert "\n" not in message
    assert capsys.readouterr().err == ""  # the exporter's own log lines are not printed


def test_a_non_2xx_answer_is_one_line(receiver: Receiver, capsys: pytest.CaptureFixture[str]) -> None:
    receiver.status = 400
    with pytest.raises(
        OtlpExportError, match=r"^http://127\.0\.0\.1:\d+/v1/traces answered HTTP 400 Bad Request$"
    ):
        export_run(genai_run(), receiver.url, timeout_s=2.0)
    assert capsys.readouterr().err == ""


def test_a_bad_environment_endpoint_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")
    with pytest.raises(
        OtlpExportError, match="OTEL_EXPORTER_OTLP_ENDPOINT 'collector:4318' must start with http"
    ):
        export_run(genai_run())
