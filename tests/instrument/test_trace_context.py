"""W3C trace context on captured requests, against `workbench serve --otlp-spans` (which logs the
traceparent each request carried) and a local OTLP receiver: the trace ids the server received are those
of the exported request spans, a caller's own header is kept, `--no-propagate` sends none, and the
server's spans join the run under their requests on the run clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import workbench as wb
from workbench.export import export_run
from workbench.export.otel_ids import span_id, trace_id, traceparent
from workbench.importers.server_spans import join_server_spans, read_otlp_json
from workbench.model import Recording, Run, Span
from workbench.options import parse_options
from workbench.serve import ServerHandle

from ..export.test_otlp import Receiver, attributes
from .otel_setup import serve

MS = 1_000_000
USER_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
PROMPT = [{"role": "user", "content": "one two three"}]


@pytest.fixture(scope="module")
def spans_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve") / "spans.jsonl"


@pytest.fixture(scope="module")
def server(spans_file: Path) -> Iterator[ServerHandle]:
    yield from serve(spans_file)


def received(spans_file: Path) -> list[dict[str, Any]]:
    """The server's `llm_request` spans, one per request it answered, in order."""
    return [s for s in read_otlp_json(spans_file) if s["name"] == "llm_request"]


def received_headers(spans: list[dict[str, Any]]) -> list[str | None]:
    return [
        next(
            (
                a["value"]["stringValue"]
                for a in s["attributes"]
                if a["key"] == "fm_workbench.serve.traceparent"
            ),
            None,
        )
        for s in spans
    ]


def test_the_server_receives_the_exported_request_spans_ids(
    server: ServerHandle,
    spans_file: Path,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    before = len(received(spans_file))
    client = openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0)
    with wb.profile("traced", store=tmp_path, cpu=False, server_spans=spans_file) as run:
        client.chat.completions.create(model="demo", messages=PROMPT, max_tokens=3)
        for _ in client.chat.completions.create(model="demo", messages=PROMPT, max_tokens=3, stream=True):
            pass
        with httpx.Client() as plain:
            plain.post(
                f"{server.base_url}/completions", json={"model": "demo", "prompt": "hi", "max_tokens": 2}
            )
    server_spans = received(spans_file)[before:]
    assert len(server_spans) == 3
    headers = received_headers(server_spans)
    requests = [s for s in run.recording.spans if s.kind == "llm"]
    assert len(requests) == 3
    assert sorted(h or "" for h in headers) == sorted(traceparent(run.id, s.span_id) for s in requests)
    assert all(s.attrs["traceparent"] == traceparent(run.id, s.span_id) for s in requests)

    export_run(run, receiver.url)
    exported = {format(int.from_bytes(s.span_id, "big"), "016x"): s for s in receiver.spans()}
    exported_requests = [s for s in exported.values() if "gen_ai.operation.name" in attributes(s.attributes)]
    assert len(exported_requests) == 3
    header_ids = {(h.split("-")[1], h.split("-")[2]) for h in headers if h}
    span_ids = {(s.trace_id.hex(), s.span_id.hex()) for s in exported_requests}
    assert header_ids == span_ids  # trace id and parent id the server got = the exported request spans'

    # The server's spans joined the run under their requests, on the run clock.
    joined = [s for s in run.recording.spans if s.kind == "server"]
    assert len(joined) == 12  # llm_request + queue, prefill, decode per request
    by_id = {s.span_id: s for s in run.recording.spans}
    for top in (s for s in joined if s.name == "llm_request"):
        request = by_id[top.parent_id or 0]
        assert request.kind == "llm"
        assert top.attrs["otel_trace_id"] == f"{trace_id(run.id):032x}"
        assert top.attrs["otel_attributes"]["fm_workbench.serve.traceparent"] == request.attrs["traceparent"]
        # Another process's wall clock, loosely: inside its request, give or take 50 ms.
        assert request.start_ns - 50 * MS <= top.start_ns <= top.end_ns <= (request.end_ns or 0) + 50 * MS
    assert {by_id[s.parent_id or 0].name for s in joined if s.name != "llm_request"} == {"llm_request"}
    # Exported too, as children of the request spans.
    server_exported = [s for s in exported.values() if s.name == "llm_request"]
    assert {s.parent_span_id.hex() for s in server_exported} == {s.span_id.hex() for s in exported_requests}


def test_a_callers_traceparent_is_kept(server: ServerHandle, spans_file: Path, tmp_path: Path) -> None:
    before = len(received(spans_file))
    with wb.profile("kept", store=tmp_path, cpu=False) as run, httpx.Client() as client:
        client.post(
            f"{server.base_url}/chat/completions",
            json={"model": "demo", "messages": PROMPT, "max_tokens": 2},
            headers={"traceparent": USER_TRACEPARENT},
        )
    assert received_headers(received(spans_file)[before:]) == [USER_TRACEPARENT]
    (request,) = [s for s in run.recording.spans if s.kind == "llm"]
    assert request.attrs["traceparent_kept"] == USER_TRACEPARENT
    assert "traceparent" not in request.attrs


def test_no_propagate_sends_none(server: ServerHandle, spans_file: Path, tmp_path: Path) -> None:
    before = len(received(spans_file))
    client = openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0)
    with wb.profile("quiet", store=tmp_path, cpu=False, propagate=False, server_spans=spans_file) as run:
        client.chat.completions.create(model="demo", messages=PROMPT, max_tokens=2)
    assert received_headers(received(spans_file)[before:]) == [None]
    assert not [s for s in run.recording.spans if s.kind == "server"]
    status = next(c for c in run.collectors if c.name == "server-spans")
    assert status.started and status.reason.startswith("0 server span(s)")


def _otlp_line(trace: str, span: str, parent: str, start_ns: int, name: str = "llm_request") -> str:
    body = {
        "traceId": trace,
        "spanId": span,
        "parentSpanId": parent,
        "name": name,
        "kind": 2,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + 5 * MS),
        "attributes": [{"key": "gen_ai.latency.time_in_queue", "value": {"doubleValue": 0.001}}],
        "status": {"code": 2, "message": "boom"},
    }
    document = {
        "resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "vllm"}, "spans": [body]}]}]
    }
    return json.dumps(document)


def test_join_puts_wall_clock_spans_on_the_run_clock(tmp_path: Path) -> None:
    rec = Recording(
        spans=[
            Span(1, "cell", "cell", 0, 100 * MS),
            Span(2, "chat demo", "llm", 10 * MS, 40 * MS, parent_id=1, attrs={"source": "openai"}),
        ]
    )
    run = Run(
        id="r1", name="n", created="", duration_ns=100 * MS, origin_wall_s=1_700_000_000.0, recording=rec
    )
    anchor = 1_700_000_000 * 1_000_000_000
    ours = f"{trace_id('r1'):032x}"
    lines = [
        _otlp_line(ours, "a" * 16, f"{span_id('r1', 2):016x}", anchor + 12 * MS),
        _otlp_line(ours, "b" * 16, "a" * 16, anchor + 13 * MS, name="prefill"),
        _otlp_line(ours, "c" * 16, "d" * 16, anchor + 14 * MS, name="lost"),
        _otlp_line("1" * 32, "e" * 16, "", anchor),
    ]
    path = tmp_path / "spans.jsonl"
    path.write_text("\n".join(lines) + "\n")
    joined = join_server_spans(run, path)
    assert (joined.joined, joined.other_traces, joined.orphans) == (3, 1, 1)
    spans = {s.name: s for s in run.recording.spans}
    assert (spans["llm_request"].parent_id, spans["llm_request"].start_ns) == (2, 12 * MS)
    assert spans["prefill"].parent_id == spans["llm_request"].span_id
    assert spans["lost"].parent_id == 1  # its parent is unknown: under the cell
    assert spans["llm_request"].attrs["error"] == "boom"
    assert spans["llm_request"].attrs["otel_attributes"] == {"gen_ai.latency.time_in_queue": 0.001}
    assert not joined.notice

    path.write_text(lines[-1])  # one document, another trace only
    nothing = join_server_spans(run, path)
    assert nothing.joined == 0 and "no span" in nothing.notice


def test_options_parse() -> None:
    options = parse_options("--no-propagate --server-spans /tmp/s.jsonl --otel-in")
    assert (options.propagate, options.server_spans, options.otel_in) == (False, "/tmp/s.jsonl", True)
    defaults = parse_options("")
    assert (defaults.propagate, defaults.server_spans, defaults.otel_in) == (True, None, None)
    assert parse_options("--no-otel-in").otel_in is False
    profile = wb.profile(propagate=False, server_spans=Path("/tmp/s"), otel_in=False).options
    assert (profile.propagate, profile.server_spans, profile.otel_in) == (False, "/tmp/s", False)
