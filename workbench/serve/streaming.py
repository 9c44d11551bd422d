"""From a backend's pieces to what the client reads: SSE events, or one body when not streamed."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from workbench.serve.backend import Piece
from workbench.serve.faults import DroppedOnPurpose
from workbench.serve.responses import Envelope, usage

DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True)
class Reply:
    """How one request is answered, decided before the first byte is sent."""

    envelope: Envelope
    prompt_tokens: int
    max_tokens: int
    finish_at_max: str
    """'length' when the client set the limit, 'stop' when the server's default length was the end."""
    include_usage: bool = False
    continuous_usage: bool = False
    drop_after: int | None = None
    server_metrics: Callable[[], dict[str, Any]] | None = None
    """vLLM's per-request `metrics` object, read when the request has ended (None: not reported)."""


def event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


async def stream_events(reply: Reply, pieces: AsyncGenerator[Piece, None]) -> AsyncIterator[bytes]:
    envelope = reply.envelope
    sent = 0
    # aclosing: when the client goes away or the drop fires, the backend stops now (the model backend
    # stops generating) rather than whenever the generator is garbage-collected.
    async with aclosing(pieces):
        role = envelope.role_choice()
        if role is not None:
            yield _chunk(reply, [role], sent)
        async for piece in pieces:
            if _drops_before(reply, sent, piece):
                raise DroppedOnPurpose(f"dropped after {sent} of {reply.max_tokens} tokens")
            sent += piece.tokens
            finish = reply.finish_at_max if sent >= reply.max_tokens else None
            yield _chunk(reply, [envelope.piece_choice(piece.text, finish)], sent)
    if sent < reply.max_tokens:
        # Generation ended before the limit (end of sequence): an empty closing chunk says so, as OpenAI does.
        yield _chunk(reply, [envelope.piece_choice("", "stop")], sent)
    if reply.include_usage:
        final = envelope.chunk([])
        final["usage"] = usage(reply.prompt_tokens, sent)
        if reply.server_metrics is not None:
            # vLLM attaches them to the final usage chunk, the one after every content chunk.
            final["metrics"] = reply.server_metrics()
        yield event(final)
    yield DONE


def _drops_before(reply: Reply, sent: int, piece: Piece) -> bool:
    # Never let the finishing piece through: a dropped stream must lack its end.
    if reply.drop_after is None:
        return False
    return sent >= reply.drop_after or sent + piece.tokens >= reply.max_tokens


def _chunk(reply: Reply, choices: list[dict[str, Any]], sent: int) -> bytes:
    data = reply.envelope.chunk(choices)
    if reply.continuous_usage:
        data["usage"] = usage(reply.prompt_tokens, sent)
    elif reply.include_usage:
        data["usage"] = None
    return event(data)


async def collect_body(reply: Reply, pieces: AsyncGenerator[Piece, None]) -> dict[str, Any]:
    texts: list[str] = []
    sent = 0
    async with aclosing(pieces):
        async for piece in pieces:
            texts.append(piece.text)
            sent += piece.tokens
    finish = reply.finish_at_max if sent >= reply.max_tokens else "stop"
    body = reply.envelope.full_body("".join(texts), finish, usage(reply.prompt_tokens, sent))
    if reply.server_metrics is not None:
        body["metrics"] = reply.server_metrics()
    return body
