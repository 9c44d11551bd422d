"""The FastAPI app: four OpenAI routes over one backend, with fault injection in front of it."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from workbench.serve.backend import Backend, GenerationRequest, RequestError
from workbench.serve.config import Faults, Scheduling
from workbench.serve.faults import plan_faults
from workbench.serve.otlp_spans import SpanLog
from workbench.serve.profiling import ProfilerControl, ProfileStateError
from workbench.serve.protocol import (
    Endpoint,
    count_prompt_tokens,
    error_body,
    parse_request,
    prompt_text,
    requested_max_tokens,
)
from workbench.serve.responses import Envelope
from workbench.serve.scheduled import ScheduledBackend
from workbench.serve.scheduler import Scheduler
from workbench.serve.streaming import Reply, collect_body, stream_events
from workbench.serve.vllm_metrics import VllmMetrics, per_request_metrics

ARRIVAL_KEY = "workbench.arrival"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ArrivalStamp:
    """Stamps each request's arrival before any request is handled.

    Requests that arrive together are handed to the app one after another; stamping in the handler
    would date the 32nd of a burst after the other 31 were parsed and answered, so its schedule (and
    measured TTFT) would slip. Yielding once after stamping lets every waiting request stamp first.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[ARRIVAL_KEY] = asyncio.get_running_loop().time()
            await asyncio.sleep(0)
        await self.app(scope, receive, send)


def create_app(
    backend: Backend,
    *,
    output_tokens: int = 32,
    faults: Faults | None = None,
    seed: int = 0,
    scheduling: Scheduling | None = None,
) -> FastAPI:
    app = FastAPI(title="FM Workbench OpenAI-compatible server", docs_url=None, redoc_url=None)
    plan = scheduling or Scheduling()
    scheduler = Scheduler(plan.max_num_seqs, plan.kv_cache_tokens)
    metrics = VllmMetrics(scheduler, backend.model_id)
    spans = None if plan.otlp_spans is None else SpanLog(plan.otlp_spans, backend.model_id)
    handler = _Handler(
        ScheduledBackend(backend, scheduler, metrics, spans), output_tokens, faults or Faults(), seed, plan
    )
    profiler = ProfilerControl(plan.profile_dir, getattr(backend, "profiling_executor", None))

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post("/start_profile")
    async def start_profile() -> Response:
        try:
            await profiler.call(profiler.start)
        except ProfileStateError as error:
            return _error(str(error), 400)
        return Response(status_code=200)

    @app.post("/stop_profile")
    async def stop_profile() -> Response:
        try:
            # On the thread that started it: torch's profiler cannot stop from another.
            files = await profiler.call(profiler.stop)
        except ProfileStateError as error:
            return _error(str(error), 400)
        return JSONResponse({"files": files})

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "model": backend.model_id}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        card = {
            "id": backend.model_id,
            "object": "model",
            "created": handler.started,
            "owned_by": "fm-workbench",
        }
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        return await handler.answer("chat", request)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await handler.answer("completion", request)

    app.add_middleware(ArrivalStamp)
    return app


class _Handler:
    def __init__(
        self, backend: ScheduledBackend, output_tokens: int, faults: Faults, seed: int, plan: Scheduling
    ) -> None:
        self.backend = backend
        self.per_request_metrics = plan.per_request_metrics
        self.output_tokens = output_tokens
        self.faults = faults
        self.seed = seed
        self.started = int(time.time())
        self._count = itertools.count()

    async def answer(self, endpoint: Endpoint, request: Request) -> Response:
        arrival = request.scope.get(ARRIVAL_KEY) or asyncio.get_running_loop().time()
        # One generator per request, seeded by arrival order: faults and jitter are reproducible run to run.
        rng = random.Random(f"{self.seed}/{next(self._count)}")
        try:
            return await self._answer(endpoint, request, arrival, rng)
        except RequestError as error:
            return _error(error.message, error.status, error.param)

    async def _answer(
        self, endpoint: Endpoint, request: Request, arrival: float, rng: random.Random
    ) -> Response:
        body = parse_request(endpoint, await request.body())
        headers = {key.lower(): value for key, value in request.headers.items()}
        plan = plan_faults(headers, self.faults, rng, body.stream)
        if plan.status is not None:
            return _error(f"injected failure (HTTP {plan.status})", plan.status)
        asked = requested_max_tokens(body)
        prompt = prompt_text(body)
        generation = GenerationRequest(prompt, asked or self.output_tokens, arrival, headers, rng)
        prompt_tokens = count_prompt_tokens(prompt)
        pieces, ticket = self.backend.open(generation, prompt_tokens)
        options = body.stream_options
        reply = Reply(
            envelope=Envelope(endpoint, body.model or self.backend.backend.model_id),
            prompt_tokens=prompt_tokens,
            max_tokens=generation.max_tokens,
            finish_at_max="length" if asked is not None else "stop",
            include_usage=bool(options and options.include_usage),
            continuous_usage=bool(options and options.include_usage and options.continuous_usage_stats),
            drop_after=plan.drop_after(generation.max_tokens),
            server_metrics=(lambda: per_request_metrics(ticket)) if self.per_request_metrics else None,
        )
        if body.stream:
            return StreamingResponse(
                stream_events(reply, pieces), media_type="text/event-stream", headers=SSE_HEADERS
            )
        return JSONResponse(await collect_body(reply, pieces))


def _error(message: str, status: int, param: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, status, param), status_code=status)
