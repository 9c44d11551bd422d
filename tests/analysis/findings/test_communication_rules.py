"""`client_queueing` and `slow_consumer` on real runs against the local server: planted, controlled, and
the gain estimate checked against the measured saving once fixed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

import workbench as wb
from workbench.analysis.findings.rules.communication import client_queueing, slow_consumer
from workbench.model.events import Span, TokenEvent
from workbench.model.finding import Finding
from workbench.model.recording import Recording
from workbench.model.run import Run
from workbench.serve import ServerHandle, start_server

TTFT_MS = 80.0
DELAY_MS = 2.0
TOKENS = 40
REQUESTS = 6
# On a shared 2-core VM runs wander by tens of ms: the estimate must land within this of the measured gain.
GAIN_TOLERANCE = 0.35
MS = 1_000_000


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    with start_server(ttft_ms=TTFT_MS, token_delay_ms=DELAY_MS, output_tokens=TOKENS, seed=1) as handle:
        yield handle


def _one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def _llm_spans(run: Run) -> list[Span]:
    return [s for s in run.recording.spans if s.kind == "llm"]


def _stream(client: httpx.Client, url: str, max_tokens: int) -> None:
    body = {"model": "synthetic", "messages": [{"role": "user", "content": "hi"}], "max_tokens": max_tokens,
            "stream": True}  # fmt: skip
    with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        for _ in response.iter_lines():
            pass


def _fan_out(server: ServerHandle, store: Path, connections: int) -> Run:
    limits = httpx.Limits(max_connections=connections)
    with (
        httpx.Client(limits=limits, timeout=30) as client,
        wb.profile(store=store, cpu=False) as run,
        ThreadPoolExecutor(REQUESTS) as pool,
    ):
        list(pool.map(lambda _: _stream(client, server.base_url, 4), range(REQUESTS)))
    return run


def test_a_pool_of_one_connection_fires_and_the_gain_matches_a_pool_as_large_as_the_concurrency(
    server: ServerHandle, tmp_path: Path
) -> None:
    capped = _fan_out(server, tmp_path, connections=1)
    wide = _fan_out(server, tmp_path, connections=REQUESTS)

    finding = _one(client_queueing(capped, None))
    assert finding.evidence["max_in_flight"] == REQUESTS
    assert finding.evidence["max_on_the_wire"] == 1
    assert finding.evidence["queue_ms"]["p90"] > 3 * TTFT_MS
    assert finding.evidence["queue_ms"]["mean"] > finding.evidence["ttft_ms"]["mean"]
    assert "connection limit" in finding.suggestion and f"max_connections={REQUESTS}" in finding.suggestion
    requests = {s.span_id for s in _llm_spans(capped)}
    assert finding.pointers and {p.ref for p in finding.pointers} <= requests
    # The worst request waited for the five before it.
    worst = finding.pointers[0]
    assert worst.end_ms - worst.start_ms > (REQUESTS - 2) * TTFT_MS  # type: ignore[operator]
    assert finding.severity == "high"

    assert client_queueing(wide, None) == []
    measured = (capped.wall_s - wide.wall_s) * 1000
    assert finding.gain_ms == pytest.approx(measured, rel=GAIN_TOLERANCE)


def _read_stream(server: ServerHandle, store: Path, work_s: float) -> Run:
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    with wb.profile(store=store, cpu=False) as run:
        stream = client.chat.completions.create(
            model="synthetic", messages=[{"role": "user", "content": "hi"}], max_tokens=TOKENS, stream=True
        )
        for _ in stream:
            if work_s:
                time.sleep(work_s)  # the reader's per-chunk work (rendering, a callback)
    return run


def test_a_reader_slower_than_the_stream_fires_and_the_gain_matches_a_reader_twice_as_fast(
    server: ServerHandle, tmp_path: Path
) -> None:
    slow = _read_stream(server, tmp_path, work_s=0.008)  # 8 ms a chunk against the server's 2 ms
    faster = _read_stream(server, tmp_path, work_s=0.004)

    finding = _one(slow_consumer(slow, None))
    (span,) = _llm_spans(slow)
    assert finding.evidence["streams"] == 1
    assert finding.evidence["wait_share"] < 0.1
    # ~TOKENS chunks of 8 ms of reading, against a server that sent them all in ~TOKENS x 2 ms.
    assert finding.evidence["reader_ms"] == pytest.approx((TOKENS - 1) * 8, rel=0.3)
    assert finding.pointers[0].ref == span.span_id
    assert "not the server" in finding.suggestion

    measured = (slow.wall_s - faster.wall_s) * 1000
    assert finding.gain_ms == pytest.approx(measured, rel=GAIN_TOLERANCE)


def test_a_reader_that_keeps_up_does_not_fire(server: ServerHandle, tmp_path: Path) -> None:
    run = _read_stream(server, tmp_path, work_s=0.0)
    (span,) = _llm_spans(run)
    # The reader waited on the server for most of the decode phase.
    assert span.attrs["decode_wait_ns"] > 0.5 * (TOKENS - 1) * DELAY_MS * 1e6
    assert slow_consumer(run, None) == []
    assert client_queueing(run, None) == []


def _hand_built_run(spans: list[Span], tokens: list[tuple[int, int]]) -> Run:
    rec = Recording()
    end = max(s.end_ns or 0 for s in spans)
    rec.add_span(Span(1, "cell", "cell", 0, end))
    for span in spans:
        rec.add_span(span)
    for request_id, t_ns in tokens:
        rec.add_token(TokenEvent(request_id, t_ns, 1))
    return Run("r", "r", "", end, 0.0, recording=rec, metrics={"wall_s": end / 1e9})


def test_new_connections_per_request_are_named_as_the_cause() -> None:
    # Three requests one after another, each spending 40 ms connecting (a TLS handshake far away) before
    # a 60 ms TTFT: the pool never waits, the connect does.
    spans, tokens = [], []
    for i in range(3):
        start = i * 200 * MS
        attrs = {
            "connect_start_ns": start + 1 * MS,
            "send_ns": start + 41 * MS,
            "headers_ns": start + 50 * MS,
            "stream": True,
        }
        spans.append(Span(i + 2, f"chat {i}", "llm", start, start + 150 * MS, parent_id=1, attrs=attrs))
        tokens += [(i + 2, start + 101 * MS), (i + 2, start + 140 * MS)]
    finding = _one(client_queueing(_hand_built_run(spans, tokens), None))
    assert finding.evidence["new_connections"] == 3
    assert finding.evidence["connect_ms"]["mean"] == pytest.approx(40)
    assert "keep-alive" in finding.title and "reuse one client" in finding.suggestion
    assert finding.gain_ms == pytest.approx(3 * 41)  # queue 1 ms + connect 40 ms, each on the path


def test_a_stream_without_per_read_waits_is_not_judged() -> None:
    # A manual span (or a run recorded before `decode_wait_ns` existed): the reader's pace is unknown.
    span = Span(2, "chat", "llm", 0, 500 * MS, parent_id=1, attrs={"stream": True})
    run = _hand_built_run([span], [(2, t * 10 * MS) for t in range(1, 50)])
    assert slow_consumer(run, None) == []
