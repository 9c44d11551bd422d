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
from workbench.model.events import Span
from workbench.model.finding import Finding
from workbench.model.run import Run
from workbench.serve import ServerHandle, start_server

TTFT_MS = 80.0
DELAY_MS = 2.0
TOKENS = 40
REQUESTS = 6
# On a shared 2-core VM runs wander by tens of ms: the estimate must land within this of the measured gain.
GAIN_TOLERANCE = 0.35


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
