"""OpenAI request bodies: parsed strictly enough to answer 400 like the API does, loosely enough to
accept fields this server ignores (temperature, top_p, user, ...)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.serve.backend import RequestError

Endpoint = Literal["chat", "completion"]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False
    continuous_usage_stats: bool = False
    """vLLM's extension: every chunk carries the usage so far (only together with include_usage)."""


class _Common(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    n: int = Field(default=1, ge=1, le=1)


class ChatRequest(_Common):
    messages: list[dict[str, Any]] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)


class CompletionRequest(_Common):
    prompt: str | list[str] | list[int]


def parse_request(endpoint: Endpoint, raw: bytes) -> ChatRequest | CompletionRequest:
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RequestError(f"request body is not JSON: {error}") from None
    kind = ChatRequest if endpoint == "chat" else CompletionRequest
    try:
        request = kind.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        param = ".".join(str(part) for part in first["loc"])
        raise RequestError(f"{param}: {first['msg']}", param=param) from None
    if request.stream_options is not None and not request.stream:
        raise RequestError("stream_options is only allowed when stream is true", param="stream_options")
    prompt = request.prompt if isinstance(request, CompletionRequest) else None
    if isinstance(prompt, list) and len(prompt) > 1 and isinstance(prompt[0], str):
        raise RequestError("only one prompt per request is supported", param="prompt")
    return request


def requested_max_tokens(request: ChatRequest | CompletionRequest) -> int | None:
    if isinstance(request, ChatRequest) and request.max_completion_tokens is not None:
        return request.max_completion_tokens
    return request.max_tokens


def prompt_text(request: ChatRequest | CompletionRequest) -> str:
    """The prompt as one text: message contents joined by newlines (roles left out)."""
    if isinstance(request, CompletionRequest):
        prompt = request.prompt
        if isinstance(prompt, str):
            return prompt
        return " ".join(str(part) for part in prompt)
    return "\n".join(_message_text(message.get("content")) for message in request.messages)


def _message_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text", "") for part in content if isinstance(part, dict)]
        return " ".join(part for part in parts if isinstance(part, str))
    return ""


def count_prompt_tokens(text: str) -> int:
    """A word count: both backends tokenise by whitespace, so this is their exact prompt length."""
    return len(text.split())


def error_body(message: str, status: int, param: str | None = None) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}
