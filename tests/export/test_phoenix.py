"""A real Arize Phoenix, started on loopback, receives an OTLP/HTTP export of a run, and the spans are read
back through Phoenix's own client (`phoenix.client.Client`): the span tree, the GenAI attributes, the
wall-clock times (the run's anchor + each event's offset, to the µs Phoenix stores) and the ids
`workbench.export.otel_ids` derives. Phoenix takes traces only (`/v1/metrics` answers 405): the export
says so and still succeeds.

The tests that start Phoenix are marked `phoenix_server` (not `phoenix`: arize-phoenix-client's pytest
plugin owns that marker, and would record them as Phoenix experiments) and skip without the `otel-test`
extra (a failure under CI=true). The last test, a stub traces-only backend, needs no Phoenix.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.phoenix_server import Phoenix, phoenix_or_skip, running_phoenix

pytest.importorskip("opentelemetry.sdk")

from workbench.export import OtlpExportError, export_run
from workbench.export.otel_ids import span_id, trace_id
from workbench.model import Recording, Run, Span, TokenEvent

phoenix_server = pytest.mark.phoenix_server

MS = 1_000_000
US = 1_000
RUN_ID = "20260105-101500-phoenix"
PROJECT = "fm-workbench-test"
# An anchor with a fraction of a second, and offsets that are not whole µs: Phoenix keeps µs.
ANCHOR_S = 1_767_608_100.123456
STREAMS = 8
READ_BACK_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    phoenix_or_skip()
    with running_phoenix(tmp_path_factory.mktemp("phoenix")) as server:
        print(f"\nPhoenix answered after {server.startup_s:.1f} s at {server.url}")
        yield server


def serving_run() -> Run:
    """cell > retrieve (embeddings under it) and answer > STREAMS concurrent streamed chat requests.

    Request i (span id 10 + i) starts at 5 ms + i × 0.3 ms + 123 ns, its first chunk 40 ms later, then one
    token every 2.5 ms for 16 tokens."""
    rec = Recording(threads={7: "MainThread"})
    rec.add_span(Span(1, "rag", "cell", 0, 120 * MS + 777, None, 7))
    rec.add_span(Span(2, "retrieve", "retrieval", 1 * MS + 501, 4 * MS + 499, 1, 7, {"k": 4}))
    embed = {"source": "openai", "model": "emb-small", "operation": "embeddings", "input_tokens": 9}
    rec.add_span(Span(3, "embeddings emb-small", "embedding", 1 * MS + 900, 3 * MS + 100, 2, 7, embed))
    rec.add_span(Span(4, "answer", "chain", 4 * MS + 600, 118 * MS + 1, 1, 7))
    for i in range(STREAMS):
        start = 5 * MS + i * 300_000 + 123
        attrs = {
            "source": "openai",
            "model": "tiny-chat",
            "operation": "chat",
            "stream": True,
            "send_ns": start + 50_000,
            "max_tokens": 16,
            "input_tokens": 20 + i,
            "usage_output_tokens": 16,
            "chunk_tokens": "usage",
            "response_model": "tiny-chat",
            "finish_reason": "length",
        }
        first = start + 40 * MS
        rec.add_span(Span(10 + i, "chat tiny-chat", "llm", start, first + 16 * 2_500_000, 4, 7, attrs))
        for k in range(16):
            rec.add_token(TokenEvent(10 + i, first + k * 2_500_000, 1))
    return Run(
        id=RUN_ID,
        name="rag",
        created="2026-01-05T10:15:00+00:00",
        duration_ns=121 * MS,
        origin_wall_s=ANCHOR_S,
        recording=rec,
    )


def unix_ns(text: str) -> int:
    """Phoenix's ISO 8601 time (µs) as Unix ns, in integers (a float would lose the ns)."""
    delta = datetime.fromisoformat(text) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def read_back(server: Phoenix, trace: str, expected: int) -> list[Any]:
    """The trace's spans through Phoenix's client, once all `expected` have been written (Phoenix inserts
    what it receives in batches, a moment after answering)."""
    from phoenix.client import Client

    client = Client(base_url=server.url)
    deadline = time.monotonic() + READ_BACK_TIMEOUT_S
    spans: list[Any] = []
    while time.monotonic() < deadline:
        try:
            spans = list(client.spans.get_spans(project_identifier=PROJECT, trace_ids=[trace], limit=1000))
        except Exception as error:  # the project appears with the first inserted span
            if "404" not in str(error):
                raise
        if len(spans) >= expected:
            return spans
        time.sleep(0.2)
    pytest.fail(f"Phoenix holds {len(spans)} of the {expected} spans after {READ_BACK_TIMEOUT_S:.0f} s")


@pytest.fixture(scope="module")
def exported(phoenix: Phoenix) -> Iterator[tuple[Run, Any, list[Any]]]:
    run = serving_run()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_HEADERS"):
            patch.delenv(name, raising=False)
        # Phoenix files a trace under the project its resource names (the standard variable, read by us).
        patch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={PROJECT}")
        result, first = timed_export(run, phoenix.url)
        spans = read_back(phoenix, result.trace_id, result.spans)
        # The first export imports the OTLP exporter; a second (the same ids: Phoenix keeps one copy) is
        # what every later export costs.
        _, again = timed_export(run, phoenix.url)
    print(
        f"\nexporter cost for {result.spans} spans and {result.metric_points} metric points: first export "
        f"{first[0]:.1f} ms wall, {first[1]:.1f} ms CPU; again {again[0]:.1f} ms wall, {again[1]:.1f} ms CPU"
        f"\n{result.message()}"
    )
    yield run, result, spans


def timed_export(run: Run, url: str) -> tuple[Any, tuple[float, float]]:
    """The result, and what the export cost: (wall ms, CPU ms of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = export_run(run, url)
    return result, ((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)


@phoenix_server
def test_the_export_succeeds_and_says_phoenix_takes_no_metrics(exported: tuple[Run, Any, list[Any]]) -> None:
    run, result, spans = exported
    assert result.spans == len(run.recording.spans) == 4 + STREAMS and len(spans) == result.spans
    assert result.metric_points > 0
    assert result.metrics_refused is not None and "/v1/metrics answered HTTP 405" in result.metrics_refused
    assert "metric points not sent" in result.message()


@phoenix_server
def test_phoenix_holds_the_span_tree_with_the_runs_ids(exported: tuple[Run, Any, list[Any]]) -> None:
    run, result, spans = exported
    trace = f"{trace_id(RUN_ID):032x}"
    assert result.trace_id == trace
    assert {s["context"]["trace_id"] for s in spans} == {trace}
    sid = {s.span_id: f"{span_id(RUN_ID, s.span_id):016x}" for s in run.recording.spans}
    got = {s["context"]["span_id"]: s for s in spans}
    assert set(got) == set(sid.values())
    for span in run.recording.spans:
        read = got[sid[span.span_id]]
        assert read["name"] == span.name
        parent = None if span.parent_id is None else sid[span.parent_id]
        assert read.get("parent_id") == parent, span.name
    root = got[sid[1]]
    assert root["name"] == "rag" and root["attributes"]["fm_workbench.run.id"] == RUN_ID


@phoenix_server
def test_times_are_the_anchor_plus_the_offsets(exported: tuple[Run, Any, list[Any]]) -> None:
    run, _, spans = exported
    got = {s["context"]["span_id"]: s for s in spans}
    anchor_ns = round(ANCHOR_S * 1e9)
    for span in run.recording.spans:
        assert span.end_ns is not None
        read = got[f"{span_id(RUN_ID, span.span_id):016x}"]
        assert abs(unix_ns(read["start_time"]) - (anchor_ns + span.start_ns)) <= US, span.name
        assert abs(unix_ns(read["end_time"]) - (anchor_ns + span.end_ns)) <= US, span.name
    first_request = got[f"{span_id(RUN_ID, 10):016x}"]
    [event] = first_request["events"]
    assert event["name"] == "fm_workbench.first_chunk"
    assert abs(unix_ns(event["timestamp"]) - (anchor_ns + 45 * MS + 123)) <= US


@phoenix_server
def test_requests_carry_the_genai_attributes(exported: tuple[Run, Any, list[Any]]) -> None:
    _, _, spans = exported
    chats = [s for s in spans if s["name"] == "chat tiny-chat"]
    assert len(chats) == STREAMS
    inputs = sorted(s["attributes"]["gen_ai.usage.input_tokens"] for s in chats)
    assert inputs == [20 + i for i in range(STREAMS)]
    for chat in chats:
        attrs = chat["attributes"]
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.request.model"] == "tiny-chat"
        assert attrs["gen_ai.response.model"] == "tiny-chat"
        assert attrs["gen_ai.provider.name"] == "openai"
        assert attrs["gen_ai.usage.output_tokens"] == 16
        assert attrs["gen_ai.request.stream"] is True
        assert attrs["gen_ai.response.finish_reasons"] == ["length"]
        assert attrs["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.040)
        assert chat["span_kind"] == "LLM"  # Phoenix recognised the GenAI conventions
        assert chat["status_code"] == "UNSET"
    [embedding] = [s for s in spans if s["name"] == "embeddings emb-small"]
    assert embedding["attributes"]["gen_ai.operation.name"] == "embeddings"
    assert embedding["attributes"]["gen_ai.request.model"] == "emb-small"
    assert embedding["attributes"]["gen_ai.usage.input_tokens"] == 9


# -- without Phoenix: a traces-only backend, as Phoenix is ----------------------------------------------
class _TracesOnly(BaseHTTPRequestHandler):
    metrics_status = 405

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = 200 if self.path == "/v1/traces" else self.metrics_status
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("status", "refused"), [(404, True), (405, True), (501, True), (400, False)])
def test_a_traces_only_backend_is_a_note_not_a_failure(status: int, refused: bool) -> None:
    handler = type("Handler", (_TracesOnly,), {"metrics_status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        if not refused:  # any other answer is still a failure, in one line
            with pytest.raises(OtlpExportError, match=rf"^{url}/v1/metrics answered HTTP 400 Bad Request$"):
                export_run(serving_run(), url)
            return
        result = export_run(serving_run(), url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert result.spans == 4 + STREAMS and result.metric_points > 0
    assert result.metrics_refused is not None
    assert result.metrics_refused.startswith(f"{url}/v1/metrics answered HTTP {status}")
    assert result.message().endswith(f"metric points not sent ({result.metrics_refused}: traces only)")
