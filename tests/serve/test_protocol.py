"""The OpenAI wire format, checked with the real openai SDK and with plain httpx over loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest

from tests.serve.conftest import OUTPUT_TOKENS
from tests.serve.helpers import chat_body, sse_events, timing_headers
from workbench.serve import ServerHandle

FAST = timing_headers(ttft_ms=5, token_delay_ms=1)


@pytest.fixture(scope="module")
def client(server: ServerHandle) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, default_headers=FAST)


def raw_events(server: ServerHandle, path: str, body: dict[str, Any], **headers: str) -> list[Any]:
    with httpx.stream("POST", server.base_url + path, json=body, headers={**FAST, **headers}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(response.iter_lines()))


def test_health_and_models(server: ServerHandle) -> None:
    root = server.base_url.removesuffix("/v1")
    assert httpx.get(root + "/health").json()["status"] == "ok"
    models = httpx.get(server.base_url + "/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == "synthetic"
    assert models["data"][0]["object"] == "model"


def test_first_chat_chunk_is_role_only(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(**chat_body(max_tokens=4), stream=True))
    first = chunks[0]
    assert first.object == "chat.completion.chunk"
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert first.choices[0].finish_reason is None
    contents = [c.choices[0].delta.content for c in chunks[1:]]
    assert contents == ["tok0", " tok1", " tok2", " tok3"]
    assert [c.choices[0].finish_reason for c in chunks[1:]] == [None, None, None, "length"]
    assert {c.id for c in chunks} == {first.id} and first.id.startswith("chatcmpl-")
    assert {c.model for c in chunks} == {"demo"}


def test_raw_stream_framing(server: ServerHandle) -> None:
    with httpx.stream(
        "POST", server.base_url + "/chat/completions", json=chat_body(2, stream=True), headers=FAST
    ) as r:
        raw = r.read()
    events = raw.split(b"\n\n")
    assert events[-1] == b"" and events[-2] == b"data: [DONE]"
    assert all(event.startswith(b"data: {") for event in events[:-2])
    assert len(events) == 2 + 3  # role chunk, two tokens, [DONE], and the empty tail


def test_include_usage_adds_a_final_usage_chunk(client: openai.OpenAI) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "one two three"}]
    stream = client.chat.completions.create(
        model="demo", messages=messages, max_tokens=3, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert all(c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (5, 3, 8)


def test_continuous_usage_stats_count_tokens_so_far(server: ServerHandle) -> None:
    options = {"include_usage": True, "continuous_usage_stats": True}
    body = chat_body(7, stream=True, stream_options=options)
    events = raw_events(server, "/chat/completions", body, **{"x-workbench-tokens-per-chunk": "3"})
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(chunk["usage"]["prompt_tokens"] == 3 for chunk in chunks)
    seen = 0
    for chunk in chunks[:-1]:
        seen += len(chunk["choices"][0]["delta"].get("content", "").split())
        assert chunk["usage"]["completion_tokens"] == seen
        assert chunk["usage"]["total_tokens"] == 3 + seen
    assert seen == 7
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 7


def test_multi_token_chunks_after_a_one_token_first_chunk(server: ServerHandle) -> None:
    events = raw_events(
        server, "/chat/completions", chat_body(8, stream=True), **{"x-workbench-tokens-per-chunk": "3"}
    )
    contents = [e["choices"][0]["delta"]["content"] for e in events[1:-1]]
    assert contents == ["tok0", " tok1 tok2 tok3", " tok4 tok5 tok6", " tok7"]


def test_non_streaming_chat(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(**chat_body(max_tokens=5))
    assert reply.object == "chat.completion" and reply.id.startswith("chatcmpl-")
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == "tok0 tok1 tok2 tok3 tok4"
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (3, 5)


def test_without_max_tokens_the_default_length_ends_with_stop(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(**chat_body(max_tokens=None))
    assert reply.usage is not None and reply.usage.completion_tokens == OUTPUT_TOKENS
    assert reply.choices[0].finish_reason == "stop"


def test_max_completion_tokens_is_honoured(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(**chat_body(max_tokens=None), max_completion_tokens=2)
    assert reply.choices[0].message.content == "tok0 tok1"


def test_completions_endpoint(client: openai.OpenAI, server: ServerHandle) -> None:
    plain = client.completions.create(model="demo", prompt="say something", max_tokens=3)
    assert plain.object == "text_completion" and plain.id.startswith("cmpl-")
    assert plain.choices[0].text == "tok0 tok1 tok2" and plain.choices[0].finish_reason == "length"
    assert plain.usage is not None and (plain.usage.prompt_tokens, plain.usage.total_tokens) == (2, 5)
    stream = client.completions.create(
        model="demo", prompt="say", max_tokens=3, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert [c.choices[0].text for c in chunks[:-1]] == ["tok0", " tok1", " tok2"]
    assert {c.object for c in chunks} == {"text_completion"}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


@pytest.mark.parametrize(
    ("body", "headers", "param"),
    [
        (chat_body(0), {}, "max_tokens"),
        ({"model": "m", "messages": []}, {}, "messages"),
        (chat_body(2, stream_options={"include_usage": True}), {}, "stream_options"),
        (chat_body(2), {"x-workbench-ttft-ms": "soon"}, "x-workbench-ttft-ms"),
        (chat_body(2), {"x-workbench-fail": "maybe"}, "x-workbench-fail"),
        (chat_body(2), {"x-workbench-fail": "drop"}, "x-workbench-fail"),
    ],
)
def test_bad_requests_get_an_openai_400(
    server: ServerHandle, body: dict[str, Any], headers: dict[str, str], param: str
) -> None:
    response = httpx.post(server.base_url + "/chat/completions", json=body, headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_async_client_streams(server: ServerHandle) -> None:
    async def main() -> list[str]:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="x", default_headers=FAST) as client:
            stream = await client.chat.completions.create(**chat_body(3), stream=True)
            return [c.choices[0].delta.content or "" async for c in stream]

    assert asyncio.run(main()) == ["", "tok0", " tok1", " tok2"]
