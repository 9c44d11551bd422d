"""SSE framing and OpenAI-compatible payloads, read the way they arrive: split anywhere, in any API shape."""

from __future__ import annotations

import json

import pytest

from workbench.instrument.openai_stream import (
    SseDecoder,
    read_event,
    read_json_body,
    read_request,
)


def _sse(*payloads: object) -> bytes:
    return b"".join(f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n".encode() for p in payloads)


def _chat_chunk(content: str | None = None, **extra: object) -> dict[str, object]:
    delta = {} if content is None else {"content": content}
    return {"object": "chat.completion.chunk", "model": "m", "choices": [{"delta": delta, **extra}]}


@pytest.mark.parametrize("split", [1, 3, 7, 1000])
def test_events_survive_any_split_of_the_byte_stream(split: int) -> None:
    raw = _sse(_chat_chunk("a"), _chat_chunk("bc"), "[DONE]").replace(b"\n", b"\r\n", 2)
    decoder = SseDecoder()
    events = [e for i in range(0, len(raw), split) for e in decoder.feed(raw[i : i + split])]
    assert [read_event(e).text for e in events] == ["a", "bc", ""]
    assert read_event(events[-1]).done


def test_one_event_per_read_takes_the_short_path_with_the_same_result() -> None:
    decoder = SseDecoder()
    events = [e for p in (_chat_chunk("a"), _chat_chunk("b")) for e in decoder.feed(_sse(p))]
    assert [read_event(e).text for e in events] == ["a", "b"]
    # A read that ends mid-event still goes through the buffer.
    assert decoder.feed(b'data: {"choices": [{"text": "c"}]}\n') == []
    assert [read_event(e).text for e in decoder.feed(b"\n")] == ["c"]


def test_comments_event_names_and_multiline_data_follow_the_sse_spec() -> None:
    decoder = SseDecoder()
    events = decoder.feed(b': keep-alive\n\nevent: message\ndata: {"a":\ndata: 1}\nid: 3\n\n')
    assert events == ['{"a":\n1}']


def test_an_unterminated_last_event_is_flushed_when_the_connection_ends() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b'data: {"choices": [{"text": "x"}]}') == []
    assert [read_event(e).text for e in decoder.flush()] == ["x"]
    assert decoder.flush() == []


def test_a_role_only_first_chunk_carries_no_output() -> None:
    info = read_event(json.dumps(_chat_chunk(None) | {"choices": [{"delta": {"role": "assistant"}}]}))
    assert not info.has_output
    assert not read_event(json.dumps(_chat_chunk(""))).has_output


def test_reasoning_and_tool_call_arguments_are_output() -> None:
    reasoning = {"choices": [{"delta": {"reasoning_content": "think"}}]}
    tool = {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": '{"q":'}}]}}]}
    assert read_event(json.dumps(reasoning)).has_output
    assert read_event(json.dumps(tool)).text == '{"q":'


def test_usage_finish_reason_and_errors_are_read() -> None:
    final = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 12}}
    info = read_event(json.dumps(final))
    assert (info.completion_tokens, info.prompt_tokens, info.has_output) == (12, 7, False)
    assert read_event(json.dumps(_chat_chunk("x", finish_reason="length"))).finish_reason == "length"
    assert read_event(json.dumps({"error": {"message": "overloaded"}})).error == "overloaded"
    assert not read_event("not json").has_output


def test_responses_api_events() -> None:
    delta = read_event(json.dumps({"type": "response.output_text.delta", "delta": "hi"}))
    done = read_event(
        json.dumps(
            {
                "type": "response.completed",
                "response": {"model": "m", "status": "completed", "usage": {"output_tokens": 9}},
            }
        )
    )
    assert (delta.text, delta.has_output) == ("hi", True)
    assert (done.completion_tokens, done.finish_reason) == (9, "completed")


def test_non_streamed_bodies() -> None:
    chat = {
        "object": "chat.completion",
        "choices": [{"message": {"content": "hello there"}, "finish_reason": "stop"}],
        "usage": {"completion_tokens": 2, "prompt_tokens": 5},
    }
    info = read_json_body(json.dumps(chat).encode())
    assert (info.text, info.completion_tokens, info.finish_reason) == ("hello there", 2, "stop")
    response = {
        "object": "response",
        "output": [{"content": [{"text": "yo"}]}],
        "usage": {"output_tokens": 1},
    }
    assert read_json_body(json.dumps(response).encode()).text == "yo"


def test_requests_are_recognised_by_endpoint_and_body() -> None:
    chat = read_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "q?"}]}],
            "stream": True,
            "max_tokens": 5,
            "temperature": 0.2,
            "stream_options": {"include_usage": True},
        },
        "/v1/chat/completions",
    )
    assert chat is not None
    assert (chat.operation, chat.stream, chat.prompt_text, chat.span_kind) == ("chat", True, "q?", "llm")
    assert chat.params == {"max_tokens": 5, "temperature": 0.2, "include_usage": True}
    embedding = read_request({"model": "e", "input": ["a", "b"]}, "/v1/embeddings")
    assert embedding is not None and embedding.span_kind == "embedding"
    assert read_request({"model": "m", "input": "x"}, "/v1/other") is None
    assert read_request({"messages": []}, "/v1/chat/completions") is None
