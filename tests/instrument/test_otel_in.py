"""OpenTelemetry in: the spans of an app instrumented with the real instrumentation packages
(`opentelemetry-instrumentation-openai-v2`, OpenInference's openai) and its own tracer, calling
`workbench serve` through the real openai client, recorded into the run: kinds mapped, parents kept,
each request once, the user's provider and exporter left working."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from opentelemetry import trace
from opentelemetry.trace import ProxyTracerProvider

import workbench as wb
from workbench.instrument.otel_map import kept_attributes, run_attributes, span_kind
from workbench.model import Run, Span
from workbench.serve import ServerHandle

from .otel_setup import global_sdk_provider, serve

PROMPT = [{"role": "user", "content": "one two three"}]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    yield from serve()


@pytest.fixture
def client(server: ServerHandle) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0)


def requests_of(run: Run) -> list[Span]:
    return [s for s in run.recording.spans if s.kind == "llm"]


def ask(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="demo", messages=PROMPT, max_tokens=3)
    for _ in client.chat.completions.create(model="demo", messages=PROMPT, max_tokens=3, stream=True):
        pass


@pytest.mark.parametrize(
    ("attributes", "kind"),
    [
        ({"openinference.span.kind": "LLM"}, "llm"),
        ({"openinference.span.kind": "RETRIEVER"}, "retrieval"),
        ({"openinference.span.kind": "RERANKER"}, "retrieval"),
        ({"openinference.span.kind": "TOOL"}, "tool"),
        ({"openinference.span.kind": "CHAIN"}, "chain"),
        ({"openinference.span.kind": "EMBEDDING"}, "embedding"),
        ({"openinference.span.kind": "AGENT"}, "agent"),
        ({"gen_ai.operation.name": "chat"}, "llm"),
        ({"gen_ai.operation.name": "embeddings"}, "embedding"),
        ({"gen_ai.operation.name": "execute_tool"}, "tool"),
        ({"gen_ai.operation.name": "invoke_agent"}, "agent"),
        ({}, "chain"),
    ],
)
def test_kinds(attributes: dict[str, str], kind: str) -> None:
    assert span_kind(attributes) == kind


def test_content_is_left_out_unless_asked() -> None:
    attributes = {
        "input.value": "secret",
        "llm.input_messages.0.message.content": "secret",
        "gen_ai.input.messages": "secret",
        "llm.model_name": "demo",
        "llm.token_count.prompt": 3,
    }
    assert kept_attributes(attributes, capture_text=False) == {
        "llm.model_name": "demo",
        "llm.token_count.prompt": 3,
    }
    assert kept_attributes(attributes, capture_text=True)["input.value"] == "secret"
    assert run_attributes(attributes) == {"model": "demo", "input_tokens": 3}


def test_openai_v2_spans_merge_into_the_captured_requests(client: openai.OpenAI, tmp_path: Path) -> None:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    provider, exporter = global_sdk_provider()
    exporter.clear()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with wb.profile("v2", store=tmp_path, cpu=False) as run, wb.span("answer", kind="chain") as stage:
            ask(client)
    finally:
        instrumentor.uninstrument()
    requests = requests_of(run)
    assert len(requests) == 2  # one request each, not two
    otel = [s for s in exporter.get_finished_spans() if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(otel) == 2  # the user's own exporter still got them: their provider was left alone
    assert trace.get_tracer_provider() is provider
    assert {r.attrs["otel_span_id"] for r in requests} == {f"{s.context.span_id:016x}" for s in otel}
    for request in requests:
        assert request.attrs["source"] == "openai"  # our hook's timings are kept
        assert request.attrs["otel_scope"].startswith("opentelemetry.")  # util.genai's handler, in 2.4b0
        assert request.attrs["otel_attributes"]["gen_ai.request.model"] == "demo"
        assert request.parent_id == stage.span_id
    assert [s for s in run.recording.spans if s.attrs.get("source") == "otel"] == []
    assert next(c for c in run.collectors if c.name == "otel-in").reason.startswith(
        "0 span(s) recorded, 2 merged"
    )


def test_openinference_pipeline_spans_nest_and_requests_count_once(
    client: openai.OpenAI, tmp_path: Path
) -> None:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    provider, _ = global_sdk_provider()
    tracer = provider.get_tracer("my-app")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with (
            wb.profile("oi", store=tmp_path, cpu=False) as run,
            wb.span("stage", kind="chain") as stage,
            tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "AGENT"}),
        ):
            retriever = {"openinference.span.kind": "RETRIEVER", "input.value": "q"}
            with tracer.start_as_current_span("retrieve", attributes=retriever):
                pass
            # A framework's LLM span around the SDK call (LangChain's ChatOpenAI): a wrapper.
            with tracer.start_as_current_span("ChatOpenAI", attributes={"openinference.span.kind": "LLM"}):
                ask(client)
    finally:
        instrumentor.uninstrument()
    by_name = {s.name: s for s in run.recording.spans}
    requests = requests_of(run)
    assert len(requests) == 2
    assert by_name["agent"].kind == "agent" and by_name["agent"].parent_id == stage.span_id
    assert (
        by_name["retrieve"].kind == "retrieval" and by_name["retrieve"].parent_id == by_name["agent"].span_id
    )
    assert (
        "input.value" not in by_name["retrieve"].attrs["otel_attributes"]
    )  # no content without --capture-text
    wrapper = by_name["ChatOpenAI"]
    assert wrapper.kind == "chain" and wrapper.attrs["otel_span_kind"] == "LLM"
    assert wrapper.parent_id == by_name["agent"].span_id
    for request in requests:
        assert request.attrs["otel_scope"].startswith("openinference.instrumentation.openai")
        assert request.parent_id == wrapper.span_id  # moved under the OTel span it stands for
    agent = by_name["agent"]
    assert 0 <= agent.start_ns <= min(r.start_ns for r in requests)
    assert max(r.end_ns or 0 for r in requests) <= (agent.end_ns or 0)


def test_spans_after_the_run_are_not_recorded(tmp_path: Path) -> None:
    provider, _ = global_sdk_provider()
    tracer = provider.get_tracer("my-app")
    with wb.profile("short", store=tmp_path, cpu=False) as run, tracer.start_as_current_span("inside"):
        pass
    with tracer.start_as_current_span("after"):
        pass
    assert [s.name for s in run.recording.spans if s.attrs.get("source") == "otel"] == ["inside"]


def test_no_sdk_provider_is_a_notice_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    global_sdk_provider()
    monkeypatch.setattr(trace, "get_tracer_provider", ProxyTracerProvider)
    with wb.profile("auto", store=tmp_path, cpu=False):
        pass
    assert "otel-in" not in capsys.readouterr().err
    with wb.profile("asked", store=tmp_path, cpu=False, otel_in=True) as run:
        pass
    assert "--otel-in: the global TracerProvider is a ProxyTracerProvider" in capsys.readouterr().err
    assert not next(c for c in run.collectors if c.name == "otel-in").started
    with wb.profile("off", store=tmp_path, cpu=False, otel_in=False) as off:
        pass
    assert all(c.name != "otel-in" for c in off.collectors)
