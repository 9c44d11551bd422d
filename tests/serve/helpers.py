"""Client-side helpers: SSE reading over plain httpx, and the moment a request really leaves the client.

`t_send` is taken from httpcore's trace hook, when the request headers start to be written: a
timestamp before `create()` would also count the client's own queueing (httpcore's pool is slow to
hand out connections to 32 requests at once), which is not the server's doing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx2

SEND_TIMES: ContextVar[list[float] | None] = ContextVar("send_times", default=None)
SEND_STARTED = "http11.send_request_headers.started"


async def trace(name: str, info: dict[str, Any]) -> None:
    sink = SEND_TIMES.get()
    if name == SEND_STARTED and sink is not None:
        sink.append(time.perf_counter())


class SendTimeTransport(httpx2.AsyncBaseTransport):
    """For `openai.AsyncOpenAI(http_client=httpx2.AsyncClient(transport=...))` (the SDK runs on httpx2):
    records, in the calling task's SEND_TIMES list, when each request starts to leave the client."""

    def __init__(self) -> None:
        limits = httpx2.Limits(max_connections=100, max_keepalive_connections=100)
        self._inner = httpx2.AsyncHTTPTransport(limits=limits)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.extensions["trace"] = trace
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class TimedStream:
    sent: float
    arrivals: list[float] = field(default_factory=list)
    """perf_counter() of each chunk with non-empty content."""
    sizes: list[int] = field(default_factory=list)
    """Tokens (words) in each of those chunks."""
    text: str = ""

    def ttft_ms(self) -> float:
        return (self.arrivals[0] - self.sent) * 1000

    def gaps_ms(self) -> list[float]:
        return [(b - a) * 1000 for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any] | str]:
    """Each `data:` payload, parsed; the final `[DONE]` as the string."""
    for line in lines:
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            yield payload if payload == "[DONE]" else json.loads(payload)


def chat_body(max_tokens: int | None = 5, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "demo",
        "messages": [{"role": "user", "content": "one two three"}],
        **extra,
    }
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


def timing_headers(ttft_ms: float, token_delay_ms: float, tokens_per_chunk: int = 1) -> dict[str, str]:
    return {
        "x-workbench-ttft-ms": str(ttft_ms),
        "x-workbench-token-delay-ms": str(token_delay_ms),
        "x-workbench-tokens-per-chunk": str(tokens_per_chunk),
    }
