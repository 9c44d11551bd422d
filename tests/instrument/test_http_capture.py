"""LLM requests captured from the real `openai` SDK and `httpx` over loopback, against the synthetic server.

The server's timing is exact by construction (absolute deadlines from each request's arrival): the first
content chunk carries one token and comes TTFT after arrival; every later chunk of k tokens comes
k x DELAY after the one before. So for N tokens: E2E = TTFT + (N - 1) x DELAY, TPOT = ITL = DELAY.

The capture's times are judged by bounds that no scheduling delay can cross: a chunk cannot reach the client
before the server's schedule allows (a delay only makes it later), and the capture must have stamped it by
the time the caller's loop got it (a delay there delays the caller too). A capture stamping too early (at
the response headers) or too late (when the stream ends) fails them. How close client-side times come to the
schedule on a given machine is a timing question for `benchmarks/bench_capture.py`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest

import workbench as wb
from workbench.active import active
from workbench.model.events import Span, TokenEvent
from workbench.model.run import Run
from workbench.serve import ServerHandle, start_server

TTFT_MS = 60.0
DELAY_MS = 8.0
TOKENS = 12
CONCURRENT = 16
MS = 1_000_000
# Server and client read one monotonic clock; the server's timers never fire early, but allow for rounding.
EPSILON_NS = MS
# An SSE line of a chunk with content ("tok0", " tok1", ...); the role chunk's content is empty.
CONTENT_EVENT = re.compile(r'"content":" ?tok')
MESSAGES = [{"role": "user", "content": "say something"}]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    with start_server(ttft_ms=TTFT_MS, token_delay_ms=DELAY_MS, output_tokens=TOKENS) as handle:
        yield handle


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


def _profile(store: Path, **options: Any) -> wb.profile:
    return wb.profile(store=store, cpu=False, **options)


def _llm_rows(run: Run) -> list[dict[str, Any]]:
    return list(run.metrics["tokens"]["per_request"])


def _llm_spans(run: Run) -> list[Any]:
    return [s for s in run.recording.spans if s.kind == "llm"]


def _now_ns() -> int:
    """The run clock's now, as the caller's loop sees a chunk."""
    recorder = active()
    assert recorder is not None
    return recorder.clock.now_ns()


def _chunks(run: Run, span: Span) -> list[TokenEvent]:
    arrivals = (t for t in run.recording.tokens if t.request_id == span.span_id and t.n_tokens > 0)
    return sorted(arrivals, key=lambda t: t.t_ns)


def _due_ms(sizes: list[int]) -> list[float]:
    """The earliest each chunk of `sizes` tokens can be sent, in ms after the request reached the server."""
    dues, due = [], 0.0
    for index, size in enumerate(sizes):
        due += TTFT_MS if index == 0 else size * DELAY_MS
        dues.append(due)
    return dues


def _assert_not_before_the_schedule(run: Run, span: Span, sizes: list[int]) -> None:
    """Each chunk stamped no earlier than the server could send it (`send_ns` precedes its arrival there)."""
    chunks = _chunks(run, span)
    assert len(chunks) == len(sizes)
    send = int(span.attrs["send_ns"])
    for chunk, due in zip(chunks, _due_ms(sizes), strict=True):
        assert chunk.t_ns >= send + due * MS - EPSILON_NS, (chunk, due)


def _assert_within(run: Run, span: Span, row: dict[str, Any], seen_ns: list[int], sizes: list[int]) -> None:
    """One request's chunks between the schedule and the caller, and its TTFT, E2E and TPOT from them."""
    _assert_not_before_the_schedule(run, span, sizes)
    chunks = _chunks(run, span)
    assert len(seen_ns) == len(chunks)
    assert all(chunk.t_ns <= seen for chunk, seen in zip(chunks, seen_ns, strict=True))
    send = int(span.attrs["send_ns"])
    assert row["ttft_ms"] == pytest.approx((chunks[0].t_ns - send) / MS)
    assert row["e2e_ms"] == pytest.approx((chunks[-1].t_ns - send) / MS)
    tokens = sum(sizes)
    assert row["tpot_ms"] == pytest.approx((row["e2e_ms"] - row["ttft_ms"]) / (tokens - 1))
    # So: TTFT >= the configured one, E2E >= TTFT + (N - 1) x DELAY, neither later than the caller saw it.
    assert TTFT_MS - 1 <= row["ttft_ms"] <= (seen_ns[0] - send) / MS
    assert TTFT_MS + (tokens - 1) * DELAY_MS - 1 <= row["e2e_ms"] <= (seen_ns[-1] - send) / MS


def _assert_each_within(run: Run, sizes: list[int], seen: list[list[int]]) -> None:
    """Concurrent requests: each one's chunks not before its schedule; and, the caller's streams not being
    matched to spans, every request's first and last chunk stamped by when some stream of the caller got
    its own: the k-th earliest first (last) chunk of the capture no later than the k-th earliest the caller
    saw, which holds whenever each request's holds."""
    spans = _llm_spans(run)
    assert len(spans) == len(seen)
    for span in spans:
        _assert_not_before_the_schedule(run, span, sizes)
    firsts = sorted(_chunks(run, span)[0].t_ns for span in spans)
    lasts = sorted(_chunks(run, span)[-1].t_ns for span in spans)
    assert all(a <= b for a, b in zip(firsts, sorted(s[0] for s in seen), strict=True))
    assert all(a <= b for a, b in zip(lasts, sorted(s[-1] for s in seen), strict=True))


def test_sync_stream_with_usage(server: ServerHandle, store: Path) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    with _profile(store) as run:
        stream = client.chat.completions.create(
            model="synthetic",
            messages=MESSAGES,
            max_tokens=TOKENS,
            temperature=0.5,
            stream=True,
            stream_options={"include_usage": True},
        )
        seen = [_now_ns() for chunk in stream if chunk.choices and chunk.choices[0].delta.content]
    (row,) = _llm_rows(run)
    (span,) = _llm_spans(run)
    assert len(seen) == TOKENS
    _assert_within(run, span, row, seen, [1] * TOKENS)
    # Usage and the stream agree: one token per chunk, counted both ways.
    assert (row["server_tokens"], row["client_tokens"], row["count_mismatch"]) == (TOKENS, TOKENS, False)
    assert row["token_count_source"] == "server"
    attrs = span.attrs
    assert attrs["source"] == "openai" and attrs["model"] == "synthetic"
    assert (attrs["max_tokens"], attrs["temperature"], attrs["http_status"]) == (TOKENS, 0.5, 200)
    assert attrs["finish_reason"] == "length" and attrs["attempts"] == 1
    # Wire phases are ordered on the run clock, inside the span.
    assert span.start_ns <= attrs["connect_start_ns"] <= attrs["send_ns"] <= attrs["headers_ns"]
    assert attrs["headers_ns"] <= row["first_token_ns"] <= row["last_token_ns"] <= span.end_ns
    assert attrs["parse_ns"] > 0
    assert "prompt" not in attrs and all(t.text is None for t in run.recording.tokens)


def test_async_concurrent_requests_are_each_measured(server: ServerHandle, store: Path) -> None:
    # 16 streams at one chunk per 8 ms are 2,000 chunks/s through one Python event loop: on a 2-core VM
    # shared with the server, more would measure the client's backlog rather than the capture.
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)

    async def one(i: int) -> list[int]:
        stream = await client.chat.completions.create(
            model=f"m{i % 2}", messages=MESSAGES, max_tokens=TOKENS, stream=True
        )
        return [_now_ns() async for chunk in stream if chunk.choices and chunk.choices[0].delta.content]

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(one(i) for i in range(CONCURRENT)))

    with _profile(store) as run:
        seen = asyncio.run(main())
    rows = _llm_rows(run)
    assert len(rows) == CONCURRENT and not any(r["failed"] for r in rows)
    assert all(len(s) == TOKENS for s in seen)
    _assert_each_within(run, [1] * TOKENS, seen)
    assert all(r["output_tokens"] == TOKENS and r["token_count_source"] == "assumed" for r in rows)
    tokens = run.metrics["tokens"]
    assert tokens["concurrency"]["max_in_flight"] >= CONCURRENT * 3 // 4
    assert set(tokens["per_model"]) == {"m0", "m1"}
    assert tokens["per_model"]["m0"]["requests"] == CONCURRENT // 2


def test_thread_pool_requests_are_each_measured(server: ServerHandle, store: Path) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)

    def one(_: int) -> list[int]:
        stream = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=TOKENS, stream=True)
        return [_now_ns() for chunk in stream if chunk.choices and chunk.choices[0].delta.content]

    with _profile(store) as run, ThreadPoolExecutor(max_workers=8) as pool:
        seen = list(pool.map(one, range(8)))
    rows = _llm_rows(run)
    spans = _llm_spans(run)
    assert len(rows) == 8 and len({s.thread_id for s in spans}) > 1
    assert all(len(s) == TOKENS for s in seen)
    _assert_each_within(run, [1] * TOKENS, seen)
    # Worker threads start with an empty context: their requests hang under the cell's root span.
    assert {s.parent_id for s in spans} == {run.recording.spans[0].span_id}


def test_multi_token_chunks_with_continuous_usage(server: ServerHandle, store: Path) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    seen: list[list[int]] = []
    with _profile(store) as run:
        for usage_stats in (True, False):
            options = {"include_usage": True, "continuous_usage_stats": usage_stats}
            stream = client.chat.completions.create(
                model="m",
                messages=MESSAGES,
                max_tokens=13,
                stream=True,
                stream_options=options,  # type: ignore[typeddict-unknown-key]
                extra_headers={"x-workbench-tokens-per-chunk": "4"},
            )
            seen.append([_now_ns() for chunk in stream if chunk.choices and chunk.choices[0].delta.content])
    exact, assumed = _llm_rows(run)
    # 13 tokens: 1 + 4 + 4 + 4. Exact counts from cumulative usage; otherwise spread from the final usage.
    assert exact["chunk_tokens"] == "usage" and assumed["chunk_tokens"] == "assumed"
    for row, span, times in zip((exact, assumed), _llm_spans(run), seen, strict=True):
        _assert_within(run, span, row, times, [1, 4, 4, 4])
        assert row["output_tokens"] == 13 and not row["count_mismatch"]
    # Exact counts: each gap spread over the tokens of the chunk it brought. Without per-chunk counts the 13
    # tokens are spread evenly over 4 chunks, the first one included, so fewer tokens share the gaps after
    # it: ITL is then an estimate (TPOT, from totals, stays exact). The gaps' sum is the decode phase.
    decode_ms = {id(row): row["e2e_ms"] - row["ttft_ms"] for row in (exact, assumed)}
    assert exact["mean_itl_ms"] == pytest.approx(decode_ms[id(exact)] / 12)
    assert assumed["mean_itl_ms"] == pytest.approx(decode_ms[id(assumed)] / 10)
    exact_chunks = [t.n_tokens for t in run.recording.tokens if t.request_id == exact["request_id"]]
    assert exact_chunks == [1, 4, 4, 4]


def test_non_streaming_and_completions(server: ServerHandle, store: Path) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    with _profile(store) as run:
        reply = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=5)
        client.completions.create(model="m", prompt="once upon", max_tokens=4, stream=True)
    chat, completion = _llm_rows(run)
    assert reply.usage is not None and chat["output_tokens"] == reply.usage.completion_tokens == 5
    assert chat["stream"] is False and chat["ttft_ms"] is None and chat["e2e_ms"] > 0
    assert _llm_spans(run)[1].attrs["operation"] == "text_completion"
    assert completion["stream"] is True


def test_failures_are_errors_with_partial_tokens_and_count_against_goodput(
    server: ServerHandle, store: Path
) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    slo = {"ttft_ms": TTFT_MS + 100, "e2e_ms": 2000}
    with _profile(store, slo=slo) as run:
        for fault in ("", "500", "drop"):
            headers = {"x-workbench-fail": fault} if fault else {}
            try:
                for _ in client.chat.completions.create(
                    model="m", messages=MESSAGES, max_tokens=TOKENS, stream=True, extra_headers=headers
                ):
                    pass
            except (openai.APIError, httpx2.HTTPError):
                pass
    ok, server_error, dropped = (s for s in _llm_spans(run))
    assert "error" not in ok.attrs
    assert server_error.attrs["http_status"] == 500 and "InternalServerError" in server_error.attrs["error"]
    assert dropped.attrs["http_status"] == 200 and dropped.attrs["error"]
    partial = [t for t in run.recording.tokens if t.request_id == dropped.span_id]
    assert 0 < sum(t.n_tokens for t in partial) < TOKENS
    tokens = run.metrics["tokens"]
    assert tokens["failed_requests"] == 2
    # Percentiles come from the one good request only.
    assert tokens["ttft_ms"]["p50"] == pytest.approx(_llm_rows(run)[0]["ttft_ms"])
    assert tokens["goodput"]["requests"] == 3 and tokens["goodput"]["met"] == 1


def test_plain_httpx_sse_and_the_connection_pool_queue(server: ServerHandle, store: Path) -> None:
    url = f"{server.base_url}/chat/completions"
    body = {"model": "raw", "messages": MESSAGES, "max_tokens": TOKENS, "stream": True}

    async def main() -> None:
        # Two connections for six requests: four must wait in the client's pool.
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=2)) as client:

            async def one() -> list[int]:
                async with client.stream("POST", url, json=body) as response:
                    return [_now_ns() async for line in response.aiter_lines() if CONTENT_EVENT.search(line)]

            seen.extend(await asyncio.gather(*(one() for _ in range(6))))

    seen: list[list[int]] = []
    with _profile(store) as run:
        asyncio.run(main())
    rows = _llm_rows(run)
    assert len(rows) == 6 and {s.attrs["source"] for s in _llm_spans(run)} == {"httpx"}
    assert all(len(s) == TOKENS for s in seen)
    _assert_each_within(run, [1] * TOKENS, seen)
    queued = sorted(r["queue_ms"] for r in rows)
    # The first two start at once; the rest wait for a connection to come free: one or two whole requests,
    # each at least E2E long by the server's schedule. Judged at half a request either way, so a stall of
    # tens of ms in this loop cannot move a request across.
    e2e = TTFT_MS + (TOKENS - 1) * DELAY_MS
    assert queued[1] < e2e / 2 < queued[2]
    assert queued[4] > 1.5 * e2e
    assert queued[-1] < 3 * e2e  # two rounds, not three: the wait ends when a connection is free


def test_text_is_stored_only_when_asked_and_dependencies_are_found(server: ServerHandle, store: Path) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)

    def ask(content: str, max_tokens: int = TOKENS) -> str:
        reply = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": content}], max_tokens=max_tokens
        )
        return reply.choices[0].message.content or ""

    for capture in (False, True):
        with _profile(store, capture_text=capture) as run:
            first = ask("question one")
            # The synthetic server always answers "tok0 tok1 ...": this answer is too short to fingerprint.
            ask("an unrelated question", max_tokens=3)
            ask(f"summarise this: {first}")
        first_span, unrelated, follow_up = _llm_spans(run)
        assert "depends_on" not in unrelated.attrs
        assert follow_up.attrs["depends_on"] == [first_span.span_id]
        texts = [t.text for t in run.recording.tokens]
        if capture:
            assert first_span.attrs["prompt"] == "question one" and texts[0] == first
        else:
            assert "prompt" not in first_span.attrs and texts == [None, None, None]


def test_outputs_are_matched_by_fingerprint_not_by_prefix() -> None:
    from workbench.instrument.llm_call import OutputIndex

    index = OutputIndex()
    index.add(1, "The capital of France is Paris, a city on the Seine with many bridges.")
    index.add(2, "Photosynthesis turns light, water and carbon dioxide into sugar.")
    index.add(3, "short")
    # Sharing a few words is not using an output.
    assert index.sources_of("What do plants make from carbon dioxide and light? Paris?") == []
    assert index.sources_of("Given that The capital of France is Paris, a city on the Seine, ...") == [1]
    assert index.sources_of("x  Photosynthesis turns light,\n water and carbon dioxide into sugar. y") == [2]
    assert index.sources_of("short") == []


def test_no_patch_is_left_behind(server: ServerHandle, store: Path) -> None:
    from openai._streaming import AsyncStream, Stream
    from openai.resources.chat.completions import AsyncCompletions, Completions

    patched = [
        (httpx.Client, "send"),
        (httpx.AsyncClient, "send"),
        (httpx2.Client, "send"),
        (httpx2.AsyncClient, "send"),
        (Completions, "create"),
        (AsyncCompletions, "create"),
        (Stream, "__stream__"),
        (AsyncStream, "__stream__"),
    ]
    originals = [owner.__dict__[name] for owner, name in patched]
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    with _profile(store) as run:
        during = [owner.__dict__[name] for owner, name in patched]
        client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=2)
    assert all(d is not o for d, o in zip(during, originals, strict=True))
    assert [owner.__dict__[name] for owner, name in patched] == originals
    assert len(_llm_spans(run)) == 1
    # After the profile, the same client works and nothing more is recorded.
    reply = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=3)
    assert reply.usage is not None and reply.usage.completion_tokens == 3
    assert len(_llm_spans(run)) == 1


def test_run_requests_is_a_dataframe_of_the_requests(server: ServerHandle, store: Path) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    with _profile(store) as run:
        for _ in client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=4, stream=True):
            pass
    frame = wb.load_run(str(run.path)).requests
    assert list(frame["output_tokens"]) == [4]
    assert {"ttft_ms", "tpot_ms", "e2e_ms", "queue_ms", "decode_ms"} <= set(frame.columns)
