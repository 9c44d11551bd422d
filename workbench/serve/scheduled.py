"""A backend's stream run through the scheduler: wait for a slot, take KV blocks as tokens come, record
vLLM's metrics, release at the end (or when the client leaves)."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncGenerator
from contextlib import aclosing

from workbench.serve.backend import Backend, GenerationRequest, Piece
from workbench.serve.otlp_spans import SpanLog
from workbench.serve.scheduler import Scheduler, Ticket
from workbench.serve.vllm_metrics import VllmMetrics


class ScheduledBackend:
    def __init__(
        self, backend: Backend, scheduler: Scheduler, metrics: VllmMetrics, spans: SpanLog | None = None
    ) -> None:
        self.backend = backend
        self.scheduler = scheduler
        self.metrics = metrics
        self.spans = spans

    def open(
        self, request: GenerationRequest, prompt_tokens: int
    ) -> tuple[AsyncGenerator[Piece, None], Ticket]:
        """The request's pieces and its ticket; a RequestError now, before the response starts."""
        # Checked with a throwaway generator: the request's own draws stay those of the real stream.
        self.backend.open_stream(dataclasses.replace(request, rng=random.Random(0)))
        ticket = Ticket(request.arrival, prompt_tokens)
        return self._pieces(request, ticket), ticket

    async def _pieces(self, request: GenerationRequest, ticket: Ticket) -> AsyncGenerator[Piece, None]:
        loop = asyncio.get_running_loop()
        try:
            await self.scheduler.admit(ticket)
            self.metrics.on_scheduled(ticket, request.prompt)
            # The backend's schedule starts when the request got its slot, not when it arrived.
            start = ticket.scheduled if ticket.scheduled is not None else loop.time()
            inner = self.backend.open_stream(dataclasses.replace(request, arrival=start))
            async with aclosing(inner):
                async for piece in inner:
                    await self.scheduler.grow(ticket, piece.tokens)
                    self.metrics.on_tokens(ticket, loop.time(), piece.tokens)
                    yield piece
            reason = "length" if ticket.generated >= request.max_tokens else "stop"
            self.metrics.on_finished(ticket, loop.time(), reason)
        finally:
            self.scheduler.release(ticket)
            if self.spans is not None:
                self.spans.record(request.headers, ticket, request.max_tokens, loop.time())
