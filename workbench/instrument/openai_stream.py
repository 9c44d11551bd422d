"""Reading OpenAI-compatible responses as their bytes arrive: SSE framing and the payloads' meaning.

One reader serves the chat and text completions APIs (as OpenAI, vLLM, TGI, llama.cpp and Ollama stream
them) and the Responses API. It sees bytes, not SDK objects, so plain `httpx` users are measured the
same way as `openai` SDK users, and the arrival time of a chunk is when its bytes left the socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Bytes kept of a non-streamed (JSON) body: enough for any completion, bounded for a misdetected download.
MAX_JSON_BODY_BYTES = 16 * 1024 * 1024


@dataclass
class ChunkInfo:
    """What one streamed event says: the output it carries and any counts or status."""

    text: str = ""
    has_output: bool = False
    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    finish_reason: str | None = None
    model: str | None = None
    error: str | None = None
    done: bool = False
    server_metrics: dict[str, float | None] | None = None
    """vLLM's per-request `metrics` (`--enable-per-request-metrics`): queue, TTFT, generation time (ms)."""


class SseDecoder:
    """Incremental Server-Sent Events framing: bytes in, the `data` of each complete event out."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[str]:
        if not self._buffer and not self._data and _is_one_data_event(chunk):
            # The common case, one `data:` event per network read, without the line-by-line walk.
            return [chunk[5:-2].strip(b" \r").decode("utf-8", "replace")]
        self._buffer += chunk
        events: list[str] = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                return events
            line = self._buffer[:newline].rstrip(b"\r")
            self._buffer = self._buffer[newline + 1 :]
            if not line:
                if self._data:
                    events.append(b"\n".join(self._data).decode("utf-8", "replace"))
                    self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
            # `event:`, `id:`, `retry:` and `:` comments carry nothing the metrics need.

    def flush(self) -> list[str]:
        """An event the server never terminated with a blank line (a dropped connection)."""
        events = self.feed(b"\n\n") if self._buffer or self._data else []
        self._buffer = b""
        return events


def _is_one_data_event(chunk: bytes) -> bool:
    return chunk.startswith(b"data:") and chunk.endswith(b"\n\n") and chunk.count(b"\n") == 2


def read_event(data: str) -> ChunkInfo:
    """Interpret one SSE `data` payload of an OpenAI-compatible stream."""
    if data.strip() == "[DONE]":
        return ChunkInfo(done=True)
    try:
        payload = json.loads(data)
    except ValueError:
        return ChunkInfo()
    if not isinstance(payload, dict):
        return ChunkInfo()
    if "type" in payload and "choices" not in payload:
        return _read_responses_event(payload)
    return read_completion(payload)


def read_completion(payload: dict[str, Any]) -> ChunkInfo:
    """A chat/text completion chunk, or a whole non-streamed completion body."""
    info = ChunkInfo(model=_str(payload.get("model")))
    error = payload.get("error")
    if error:
        info.error = _error_text(error)
    parts: list[str] = []
    for choice in payload.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        reason = choice.get("finish_reason")
        if reason:
            info.finish_reason = str(reason)
        text = choice.get("text")
        if isinstance(text, str):
            parts.append(text)
        for holder in (choice.get("delta"), choice.get("message")):
            if isinstance(holder, dict):
                parts.extend(_message_output(holder))
    info.text = "".join(parts)
    info.has_output = bool(info.text)
    usage = payload.get("usage")
    if isinstance(usage, dict):
        info.completion_tokens = _int(usage.get("completion_tokens"))
        info.prompt_tokens = _int(usage.get("prompt_tokens"))
    info.server_metrics = _server_metrics(payload.get("metrics"))
    return info


def _server_metrics(value: object) -> dict[str, float | None] | None:
    if not isinstance(value, dict):
        return None
    numbers = {
        str(key): (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None)
        for key, v in value.items()
        if v is None or (isinstance(v, int | float) and not isinstance(v, bool))
    }
    return numbers or None


def _message_output(message: dict[str, Any]) -> list[str]:
    # Reasoning and tool-call arguments are generated tokens too: they count for TTFT (DESIGN.md).
    out = [
        value
        for key in ("content", "reasoning_content", "reasoning")
        if isinstance(value := message.get(key), str)
    ]
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            out.append(function["arguments"])
    return out


def _read_responses_event(payload: dict[str, Any]) -> ChunkInfo:
    kind = str(payload.get("type"))
    if kind.endswith(".delta") and isinstance(payload.get("delta"), str):
        text = payload["delta"]
        return ChunkInfo(text=text, has_output=bool(text))
    response = payload.get("response")
    if kind in ("response.completed", "response.incomplete", "response.failed") and isinstance(
        response, dict
    ):
        usage = response.get("usage") or {}
        info = ChunkInfo(
            completion_tokens=_int(usage.get("output_tokens")),
            prompt_tokens=_int(usage.get("input_tokens")),
            model=_str(response.get("model")),
            finish_reason=_str(response.get("status")),
        )
        if response.get("error"):
            info.error = _error_text(response["error"])
        return info
    if kind == "error":
        return ChunkInfo(error=_error_text(payload.get("message") or payload))
    return ChunkInfo()


def read_response_output(payload: dict[str, Any]) -> ChunkInfo:
    """A whole non-streamed Responses API body."""
    usage = payload.get("usage") or {}
    texts = [
        part.get("text", "")
        for item in payload.get("output") or ()
        if isinstance(item, dict)
        for part in item.get("content") or ()
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]
    text = "".join(texts)
    return ChunkInfo(
        text=text,
        has_output=bool(text),
        completion_tokens=_int(usage.get("output_tokens")),
        prompt_tokens=_int(usage.get("input_tokens")),
        model=_str(payload.get("model")),
        finish_reason=_str(payload.get("status")),
    )


def read_json_body(body: bytes) -> ChunkInfo:
    try:
        payload = json.loads(body)
    except ValueError:
        return ChunkInfo()
    if not isinstance(payload, dict):
        return ChunkInfo()
    if payload.get("object") == "response" or ("output" in payload and "choices" not in payload):
        return read_response_output(payload)
    return read_completion(payload)


@dataclass
class RequestBody:
    """What an OpenAI-style request body says about the request (parameters and, transiently, the prompt)."""

    model: str | None = None
    stream: bool = False
    operation: str = "chat"
    params: dict[str, Any] = field(default_factory=dict)
    prompt_text: str = ""

    @property
    def span_kind(self) -> str:
        return "embedding" if self.operation == "embeddings" else "llm"


REQUEST_PARAMS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "temperature", "top_p", "n")
# The endpoint decides the operation (OpenTelemetry GenAI operation names); the body decides otherwise.
OPERATIONS_BY_PATH = (
    ("/chat/completions", "chat"),
    ("/completions", "text_completion"),
    ("/responses", "responses"),
    ("/embeddings", "embeddings"),
)


def read_request(payload: dict[str, Any], path: str = "") -> RequestBody | None:
    """None when the body is not an LLM request (no model, or nothing to generate from)."""
    if not isinstance(payload.get("model"), str):
        return None
    operation = next((op for suffix, op in OPERATIONS_BY_PATH if path.endswith(suffix)), None)
    if operation is None:
        if "messages" in payload:
            operation = "chat"
        elif "prompt" in payload:
            operation = "text_completion"
        else:
            return None
    if operation == "chat":
        prompt = _messages_text(payload.get("messages"))
    else:
        prompt = _prompt_text(payload.get("prompt", payload.get("input")))
    params = {
        key: payload[key]
        for key in REQUEST_PARAMS
        if isinstance(payload.get(key), int | float) and not isinstance(payload.get(key), bool)
    }
    options = payload.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        params["include_usage"] = True
    return RequestBody(
        model=payload["model"],
        stream=bool(payload.get("stream")),
        operation=operation,
        params=params,
        prompt_text=prompt,
    )


def _messages_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    return "\n".join(_prompt_text(m.get("content")) for m in messages if isinstance(m, dict))


def _prompt_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_prompt_text(v.get("text") if isinstance(v, dict) else v) for v in value)
    return ""


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error)
    return str(error)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
