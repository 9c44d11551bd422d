"""`client_queueing` and `slow_consumer`: planted in real runs against the local server, with controls, and
the gain estimate judged against the measured saving once fixed on recorded pairs.

The real runs are judged by margins that scheduling delays only widen: the server never answers sooner than
its schedule, so six requests through one connection queue for at least four TTFTs, and a reader sleeping
8 ms a chunk spends at least that per chunk. Estimate against measured gain is timing: on the recorded pairs
(`tests/data/findings/`), and measured afresh by `benchmarks/bench_findings.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.analysis.findings.planted import FAN_OUT, STREAM_SERVER, fan_out, read_stream
from tests.analysis.findings.recorded import measured, recorded
from workbench.analysis.findings.rules.communication import MAX_WAIT_SHARE, client_queueing, slow_consumer
from workbench.model.events import Span, TokenEvent
from workbench.model.finding import Finding
from workbench.model.recording import Recording
from workbench.model.run import Run
from workbench.serve import ServerHandle, start_server

TTFT_MS = float(STREAM_SERVER["ttft_ms"])
DELAY_MS = float(STREAM_SERVER["token_delay_ms"])
TOKENS = int(STREAM_SERVER["output_tokens"])
# On the recorded pairs, the estimate lands within this share of the gain measured once fixed.
GAIN_TOLERANCE = 0.35
MS = 1_000_000


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    with start_server(**STREAM_SERVER) as handle:
        yield handle


def _one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def _llm_spans(run: Run) -> list[Span]:
    return [s for s in run.recording.spans if s.kind == "llm"]


def _capped_pool_finding(capped: Run) -> Finding:
    finding = _one(client_queueing(capped, None))
    assert finding.evidence["max_in_flight"] == FAN_OUT
    assert finding.evidence["max_on_the_wire"] == 1
    # Each request holds the one connection for a TTFT at least: the last ones queue for four or five.
    assert finding.evidence["queue_ms"]["p90"] > 3 * TTFT_MS
    assert "connection limit" in finding.suggestion and f"max_connections={FAN_OUT}" in finding.suggestion
    requests = {s.span_id for s in _llm_spans(capped)}
    assert finding.pointers and {p.ref for p in finding.pointers} <= requests
    # The worst request waited for the five before it.
    worst = finding.pointers[0]
    assert worst.end_ms - worst.start_ms > (FAN_OUT - 2) * TTFT_MS  # type: ignore[operator]
    assert finding.severity == "high"
    assert 0 < finding.gain_ms <= capped.wall_s * 1000 + 1e-6
    return finding


def test_a_pool_of_one_connection_fires_and_a_pool_as_large_as_the_concurrency_does_not(
    server: ServerHandle, tmp_path: Path
) -> None:
    _capped_pool_finding(fan_out(server, tmp_path, connections=1))
    assert client_queueing(fan_out(server, tmp_path, connections=FAN_OUT), None) == []


def test_on_the_recorded_pair_the_queueing_gain_matches_a_pool_as_large_as_the_concurrency() -> None:
    capped, wide = recorded("client_queueing", "capped"), recorded("client_queueing", "wide")
    finding = _capped_pool_finding(capped)
    assert finding.evidence["queue_ms"]["mean"] > finding.evidence["ttft_ms"]["mean"]
    assert client_queueing(wide, None) == []
    saved = measured("client_queueing")["measured_gain_ms"]
    assert saved == pytest.approx((capped.wall_s - wide.wall_s) * 1000)
    assert finding.gain_ms == pytest.approx(saved, rel=GAIN_TOLERANCE)


def _slow_reader_finding(slow: Run) -> Finding:
    finding = _one(slow_consumer(slow, None))
    (span,) = _llm_spans(slow)
    assert finding.evidence["streams"] == 1
    assert finding.evidence["wait_share"] < MAX_WAIT_SHARE / 2
    # ~TOKENS chunks of at least 8 ms of reading (a sleep never ends early), against a server that sent them
    # all in ~TOKENS x 2 ms.
    assert finding.evidence["reader_ms"] >= 0.95 * (TOKENS - 1) * 8
    assert finding.pointers[0].ref == span.span_id
    assert "not the server" in finding.suggestion
    assert 0 < finding.gain_ms <= finding.evidence["reader_ms"] / 2 + 1e-6
    return finding


def test_a_reader_slower_than_the_stream_fires(server: ServerHandle, tmp_path: Path) -> None:
    # 8 ms a chunk against the server's 2 ms.
    _slow_reader_finding(read_stream(server, tmp_path, work_s=0.008))


def test_on_the_recorded_pair_the_readers_gain_matches_a_reader_twice_as_fast() -> None:
    slow, faster = recorded("slow_consumer", "slow"), recorded("slow_consumer", "faster")
    finding = _slow_reader_finding(slow)
    assert finding.evidence["reader_ms"] == pytest.approx((TOKENS - 1) * 8, rel=0.3)
    saved = measured("slow_consumer")["measured_gain_ms"]
    assert saved == pytest.approx((slow.wall_s - faster.wall_s) * 1000)
    assert finding.gain_ms == pytest.approx(saved, rel=GAIN_TOLERANCE)


def test_a_reader_that_keeps_up_does_not_fire(server: ServerHandle, tmp_path: Path) -> None:
    for run in (read_stream(server, tmp_path, work_s=0.0), recorded("slow_consumer", "keeps_up")):
        (span,) = _llm_spans(run)
        # The reader waited on the server for most of the decode phase.
        assert span.attrs["decode_wait_ns"] > 0.5 * (TOKENS - 1) * DELAY_MS * MS
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
