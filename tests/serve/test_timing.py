"""Client-side timing matches the configured schedule, for one stream and for 32 at once.

Tolerance: every TTFT and every inter-chunk gap of a round within ±15 ms of the configured value.
TTFT is measured from the moment the request headers start to leave the client (httpcore's trace
hook), gaps between chunks with content. Typical worst errors on a quiet 2-core VM: +2..+5 ms TTFT
and ±1 ms gaps for one stream, +1..+7 ms and ±5 ms for 32 streams.

A round is repeated (at most five in all) when it misses: on a 2-core machine shared with other
work, the scheduler now and then stalls the client or the server for tens of ms, which says nothing
about the server. A real fault (buffering, drift, a schedule that slips under load) misses every round.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from collections.abc import Callable

import httpx
import httpx2
import openai
import pytest

from tests.serve.helpers import (
    SEND_STARTED,
    SEND_TIMES,
    SendTimeTransport,
    TimedStream,
    chat_body,
    sse_events,
    timing_headers,
)
from workbench.serve import ServerHandle

TOLERANCE_MS = 15.0
ROUNDS = 5
TTFT_MS, TOKEN_DELAY_MS, PER_CHUNK, TOKENS = 120.0, 25.0, 2, 9  # chunks of 1, 2, 2, 2, 2 tokens


async def timed_stream(client: openai.AsyncOpenAI) -> TimedStream:
    sent: list[float] = []
    SEND_TIMES.set(sent)  # this task's own list: concurrent streams do not share it
    stream = await client.chat.completions.create(
        **chat_body(TOKENS),
        stream=True,
        extra_headers=timing_headers(TTFT_MS, TOKEN_DELAY_MS, PER_CHUNK),
    )
    timed = TimedStream(sent=0.0)
    async for chunk in stream:
        now = time.perf_counter()
        content = chunk.choices[0].delta.content if chunk.choices else None
        if content:
            timed.arrivals.append(now)
            timed.sizes.append(len(content.split()))
            timed.text += content
    timed.sent = sent[-1]
    return timed


async def run_streams(base_url: str, count: int) -> list[TimedStream]:
    # A full collection in this process (tens of ms with pandas and the SDK loaded) would be charged
    # to the server; the server freezes its own heap for the same reason.
    gc.collect()
    gc.disable()
    try:
        return await _run_streams(base_url, count)
    finally:
        gc.enable()


async def _run_streams(base_url: str, count: int) -> list[TimedStream]:
    http_client = httpx2.AsyncClient(transport=SendTimeTransport())
    async with openai.AsyncOpenAI(
        base_url=base_url, api_key="x", max_retries=0, http_client=http_client
    ) as client:
        await timed_stream(client)  # warm-up: the SDK's first request pays one-off setup
        await asyncio.gather(*(timed_stream(client) for _ in range(count)))  # and opens `count` connections
        return list(await asyncio.gather(*(timed_stream(client) for _ in range(count))))


def errors_ms(streams: list[TimedStream]) -> tuple[list[float], list[float]]:
    ttft = [s.ttft_ms() - TTFT_MS for s in streams]
    gaps = [
        gap - size * TOKEN_DELAY_MS
        for s in streams
        for gap, size in zip(s.gaps_ms(), s.sizes[1:], strict=True)
    ]
    return ttft, gaps


def worst_error_ms(ttft: list[float], gaps: list[float]) -> float:
    return max(abs(error) for error in ttft + gaps)


def best_round(measure: Callable[[], tuple[list[float], list[float]]]) -> tuple[list[float], list[float]]:
    best: tuple[list[float], list[float]] | None = None
    for _ in range(ROUNDS):
        ttft, gaps = measure()
        if best is None or worst_error_ms(ttft, gaps) < worst_error_ms(*best):
            best = ttft, gaps
        if worst_error_ms(*best) <= TOLERANCE_MS:
            break
    assert best is not None
    return best


@pytest.mark.parametrize("count", [1, 32])
def test_ttft_and_chunk_gaps_match_the_schedule(server: ServerHandle, count: int) -> None:
    def measure() -> tuple[list[float], list[float]]:
        streams = asyncio.run(run_streams(server.base_url, count))
        assert all(s.sizes == [1, 2, 2, 2, 2] and len(s.text.split()) == TOKENS for s in streams)
        return errors_ms(streams)

    ttft, gaps = best_round(measure)
    ranges = f"TTFT {min(ttft):+.1f}..{max(ttft):+.1f} ms, gaps {min(gaps):+.1f}..{max(gaps):+.1f} ms"
    print(f"\n{count} streams, error against the schedule: {ranges}")  # shown with pytest -s
    assert max(abs(e) for e in ttft) <= TOLERANCE_MS, ttft
    assert max(abs(e) for e in gaps) <= TOLERANCE_MS, gaps


def test_each_event_is_flushed_at_once(server: ServerHandle) -> None:
    # Small events on a kept-alive connection, 10 ms apart: a server that buffers, or leaves Nagle's
    # algorithm on (then each event waits for the client's delayed ACK, ~40 ms), would bunch them up.
    # The role chunk is due at once, the first token after 100 ms.
    def measure() -> tuple[list[float], list[float]]:
        arrivals = event_times_ms(server, timing_headers(ttft_ms=100, token_delay_ms=10), tokens=5)
        role, *tokens = arrivals
        gaps = [b - a - 10 for a, b in itertools.pairwise(tokens)]
        return [role, tokens[0] - 100], gaps

    firsts, gaps = best_round(measure)
    assert max(abs(e) for e in firsts + gaps) <= TOLERANCE_MS, (firsts, gaps)


def event_times_ms(server: ServerHandle, headers: dict[str, str], tokens: int) -> list[float]:
    """When each chunk of one plain-httpx stream arrived, in ms after the request started to leave."""
    sent: list[float] = []

    def note(name: str, info: object) -> None:
        if name == SEND_STARTED:
            sent.append(time.perf_counter())

    with httpx.Client() as client:
        client.get(server.base_url + "/models")  # the timed request reuses this connection
        with client.stream(
            "POST",
            server.base_url + "/chat/completions",
            json=chat_body(tokens, stream=True),
            headers=headers,
            extensions={"trace": note},
        ) as response:
            arrivals = [
                time.perf_counter() for event in sse_events(response.iter_lines()) if event != "[DONE]"
            ]
    return [(t - sent[0]) * 1000 for t in arrivals]
