"""Token metrics against hand-made streams whose delays are known (definitions in DESIGN.md)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from workbench.analysis.tokens import request_metrics, token_metrics
from workbench.model import Recording, Span, TokenEvent

MS = 1_000_000


def _llm(span_id: int, send_ms: float, end_ms: float, **attrs: object) -> Span:
    return Span(span_id, f"req{span_id}", "llm", int(send_ms * MS), int(end_ms * MS), attrs=dict(attrs))


def _chunks(request_id: int, *arrivals: tuple[float, int]) -> list[TokenEvent]:
    return [TokenEvent(request_id, int(t_ms * MS), n) for t_ms, n in arrivals]


# Request 1: sent at 0; a role-only chunk at 5 ms, then 1, 1, 3 and 1 tokens at 100, 130, 190, 200 ms.
REQ1 = _llm(1, 0, 205, model="gpt2")
REQ1_TOKENS = _chunks(1, (5, 0), (100, 1), (130, 1), (190, 3), (200, 1))
# Request 2: sent at 50 ms, exactly one token at 80 ms; the server reports 1 (agrees).
REQ2 = _llm(2, 50, 81, usage_output_tokens=1)
REQ2_TOKENS = _chunks(2, (80, 1))
# Request 3: sent at 100 ms, three 2-token chunks at 150, 170, 210 ms; the server says 12 (client counted 6).
REQ3 = _llm(3, 100, 211, usage_output_tokens=12)
REQ3_TOKENS = _chunks(3, (150, 2), (170, 2), (210, 2))
# Request 4 failed; its late arrival and 5 tokens must not enter percentiles or throughput.
REQ4 = _llm(4, 20, 400, error="TimeoutError")
REQ4_TOKENS = _chunks(4, (400, 5))


def _recording() -> Recording:
    rec = Recording()
    for span in (REQ1, REQ2, REQ3, REQ4):
        rec.add_span(span)
    # A non-LLM span is not a request, even if it happens to share nothing with the requests.
    rec.add_span(Span(5, "retrieve", "retrieval", 0, 10 * MS))
    # Interleaved arrivals, as concurrent streams deliver them.
    for event in sorted(REQ1_TOKENS + REQ2_TOKENS + REQ3_TOKENS + REQ4_TOKENS, key=lambda t: t.t_ns):
        rec.add_token(event)
    return rec


def test_ttft_ignores_an_empty_role_only_first_chunk() -> None:
    m = request_metrics(REQ1, REQ1_TOKENS)
    assert m.ttft_ms == pytest.approx(100.0)  # not 5 ms: the role-only chunk carries no token
    assert m.e2e_ms == pytest.approx(200.0)
    assert m.first_token_ns == 100 * MS
    assert m.last_token_ns == 200 * MS


def test_multi_token_chunks_give_k_itl_samples_of_gap_over_k() -> None:
    m = request_metrics(REQ1, REQ1_TOKENS)
    assert m.icl_ms == pytest.approx([30.0, 60.0, 10.0])
    assert m.tokens_per_chunk == [1, 1, 3, 1]
    # The 3-token chunk arrived 60 ms after the previous one: three samples of 20 ms.
    assert m.itl_ms == pytest.approx([30.0, 20.0, 20.0, 20.0, 10.0])


def test_tpot_and_client_count() -> None:
    m = request_metrics(REQ1, REQ1_TOKENS)
    assert (m.output_tokens, m.client_tokens, m.server_tokens) == (6, 6, None)
    assert m.token_count_source == "client"
    assert m.tpot_ms == pytest.approx((200.0 - 100.0) / (6 - 1))
    assert not m.count_mismatch
    assert m.model == "gpt2"
    assert not m.failed


def test_a_single_token_request_has_no_tpot_and_no_itl() -> None:
    m = request_metrics(REQ2, REQ2_TOKENS)
    assert m.ttft_ms == pytest.approx(30.0)
    assert m.e2e_ms == pytest.approx(30.0)
    assert m.tpot_ms is None
    assert m.itl_ms == []
    assert m.icl_ms == []


def test_server_usage_wins_and_a_disagreeing_client_count_is_flagged() -> None:
    m = request_metrics(REQ3, REQ3_TOKENS)
    assert (m.output_tokens, m.client_tokens, m.server_tokens) == (12, 6, 12)
    assert m.token_count_source == "server"
    assert m.count_mismatch
    assert m.tpot_ms == pytest.approx((110.0 - 50.0) / (12 - 1))
    assert m.itl_ms == pytest.approx([10.0, 10.0, 20.0, 20.0])
    agreeing = request_metrics(REQ2, REQ2_TOKENS)
    assert agreeing.token_count_source == "server"
    assert not agreeing.count_mismatch


def test_arrival_order_in_the_list_does_not_matter() -> None:
    shuffled = list(REQ1_TOKENS)
    random.Random(4).shuffle(shuffled)
    assert request_metrics(REQ1, shuffled) == request_metrics(REQ1, REQ1_TOKENS)


def test_a_request_with_no_content_has_no_latencies() -> None:
    m = request_metrics(_llm(9, 0, 50), _chunks(9, (5, 0)))
    assert (m.ttft_ms, m.e2e_ms, m.tpot_ms, m.first_token_ns) == (None, None, None, None)
    assert m.output_tokens == 0


def test_failed_request_is_counted() -> None:
    m = request_metrics(REQ4, REQ4_TOKENS)
    assert m.failed
    metrics = token_metrics(_recording())
    assert metrics["requests"] == 4
    assert metrics["failed_requests"] == 1


def _check_summary(summary: dict[str, float | None], values: list[float]) -> None:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))  # population std
    assert summary["mean"] == pytest.approx(mean)
    assert summary["std"] == pytest.approx(std)
    for p in (50, 90, 95, 99):
        assert summary[f"p{p}"] == pytest.approx(float(np.percentile(values, p)))


def test_run_level_statistics_exclude_the_failed_request() -> None:
    metrics = token_metrics(_recording())
    _check_summary(metrics["ttft_ms"], [100.0, 30.0, 50.0])
    _check_summary(metrics["e2e_ms"], [200.0, 30.0, 110.0])
    _check_summary(metrics["tpot_ms"], [20.0, 60.0 / 11])
    _check_summary(metrics["itl_ms"], [30.0, 20.0, 20.0, 20.0, 10.0, 10.0, 10.0, 20.0, 20.0])


def test_hand_computed_ttft_moments() -> None:
    # TTFTs 100, 30, 50 ms: mean 60; population variance (40² + 30² + 10²) / 3 = 2600 / 3.
    ttft = token_metrics(_recording())["ttft_ms"]
    assert ttft["mean"] == pytest.approx(60.0)
    assert ttft["std"] == pytest.approx(math.sqrt(2600 / 3))
    assert ttft["p50"] == pytest.approx(50.0)
    # Linear interpolation over sorted [30, 50, 100]: p90 sits at rank 1.8 -> 50 + 0.8 * 50 = 90.
    assert ttft["p90"] == pytest.approx(90.0)
    assert ttft["p99"] == pytest.approx(50 + 0.98 * 50)


def test_run_throughput_is_output_tokens_over_first_send_to_last_arrival() -> None:
    metrics = token_metrics(_recording())
    # Successful requests: 6 (client) + 1 (server) + 12 (server) = 19 tokens, from the send at 0 ms to the
    # last successful arrival at 210 ms. The failed request (5 tokens, arrival at 400 ms) is excluded.
    assert metrics["output_tokens"] == 19
    assert metrics["output_tokens_per_s"] == pytest.approx(19 / 0.210)
    assert metrics["request_throughput_per_s"] == pytest.approx(3 / 0.210)


def test_count_sources_and_mismatches_over_the_run() -> None:
    metrics = token_metrics(_recording())
    assert metrics["token_count_source"] == {"1": "client", "2": "server", "3": "server", "4": "client"}
    assert metrics["count_mismatch_requests"] == [3]
    rows = {row["request_id"]: row for row in metrics["per_request"]}
    assert set(rows) == {1, 2, 3, 4}
    assert rows[4]["failed"] is True
    assert "itl_ms" not in rows[1]


def test_a_run_without_requests() -> None:
    metrics = token_metrics(Recording())
    assert (metrics["requests"], metrics["output_tokens"], metrics["output_tokens_per_s"]) == (0, 0, None)
    assert metrics["ttft_ms"] == dict.fromkeys(["mean", "std", "p50", "p90", "p95", "p99"])


# --- send time, non-streaming requests, assumed chunk counts -------------------------------------------


def test_ttft_and_e2e_count_from_send_ns_when_the_hook_recorded_it() -> None:
    # The client call started at 0 but waited 20 ms for a connection; the request went out at 20 ms.
    span = _llm(11, 0, 205, send_ns=20 * MS)
    m = request_metrics(span, REQ1_TOKENS)
    assert m.send_ns == 20 * MS
    assert m.ttft_ms == pytest.approx(80.0)  # 100 - 20, not 100 - 0
    assert m.e2e_ms == pytest.approx(180.0)
    assert m.tpot_ms == pytest.approx((180.0 - 80.0) / (6 - 1))


def test_a_non_streaming_request_has_e2e_only() -> None:
    # Sent at 10 ms; the whole 40-token answer arrived with the body at 510 ms.
    span = _llm(12, 0, 515, send_ns=10 * MS, stream=False, usage_output_tokens=40)
    m = request_metrics(span, _chunks(12, (510, 40)))
    assert not m.stream
    assert m.e2e_ms == pytest.approx(500.0)
    assert (m.ttft_ms, m.tpot_ms) == (None, None)
    assert (m.itl_ms, m.icl_ms, m.tokens_per_chunk) == ([], [], [])
    assert m.output_tokens == 40
    assert not m.count_mismatch


# Request 13: the client assumed one token per content chunk (it cannot count); chunks at 100, 110, 130 and
# 160 ms after a send at 0. The server's usage says 10 tokens.
ASSUMED = _llm(13, 0, 170, chunk_tokens="assumed", usage_output_tokens=10)
ASSUMED_TOKENS = _chunks(13, (100, 1), (110, 1), (130, 1), (160, 1))


def test_assumed_chunk_counts_are_scaled_to_the_servers_count() -> None:
    m = request_metrics(ASSUMED, ASSUMED_TOKENS)
    # Cumulative 1, 2, 3, 4 scaled by 10/4 is 2.5, 5, 7.5, 10; rounded half up 3, 5, 8, 10:
    # chunks of 3, 2, 3, 2.
    assert m.tokens_per_chunk == [3, 2, 3, 2]
    # Gaps 10, 20, 30 ms over 2, 3, 2 tokens: 2 x 5, 3 x 20/3, 2 x 15; not the client's 10, 20, 30.
    assert m.itl_ms == pytest.approx([5.0, 5.0, 20 / 3, 20 / 3, 20 / 3, 15.0, 15.0])
    assert sum(m.itl_ms) == pytest.approx(60.0)  # still last - first arrival
    assert m.icl_ms == pytest.approx([10.0, 20.0, 30.0])
    assert (m.output_tokens, m.client_tokens, m.token_count_source) == (10, 4, "server")
    assert m.tpot_ms == pytest.approx(60.0 / 9)
    assert not m.count_mismatch  # the client never counted, so there is nothing to disagree with
    assert 13 not in token_metrics(_one(ASSUMED, ASSUMED_TOKENS))["count_mismatch_requests"]


def test_a_server_count_below_the_assumed_chunks_keeps_itl_summing_to_the_stream() -> None:
    span = _llm(14, 0, 170, chunk_tokens="assumed", usage_output_tokens=2)
    m = request_metrics(span, _chunks(14, (100, 1), (110, 1), (130, 1), (160, 1)))
    # Cumulative 1..4 scaled by 2/4 is 0.5, 1, 1.5, 2, rounded half up 1, 1, 2, 2: chunks of 1, 0, 1, 0.
    assert m.tokens_per_chunk == [1, 0, 1, 0]
    # The one token after the first arrived somewhere between 100 and 160 ms: one sample of 60 ms.
    assert m.itl_ms == pytest.approx([60.0])
    assert m.tpot_ms == pytest.approx(60.0)


def test_assumed_counts_without_a_server_count_are_labelled_assumed() -> None:
    m = request_metrics(_llm(15, 0, 170, chunk_tokens="assumed"), ASSUMED_TOKENS)
    assert (m.output_tokens, m.token_count_source) == (4, "assumed")
    assert m.itl_ms == pytest.approx([10.0, 20.0, 30.0])


def test_exact_per_chunk_counts_that_disagree_with_usage_are_a_mismatch() -> None:
    span = _llm(16, 0, 170, chunk_tokens="usage", usage_output_tokens=9)
    m = request_metrics(span, _chunks(16, (100, 2), (110, 3), (130, 3)))
    assert m.count_mismatch  # 8 counted from the server's cumulative usage, 9 in the final usage
    assert m.itl_ms == pytest.approx([10 / 3] * 3 + [20 / 3] * 3)  # the real per-chunk counts are kept


def _one(span: Span, tokens: list[TokenEvent]) -> Recording:
    rec = Recording()
    rec.add_span(span)
    for event in tokens:
        rec.add_token(event)
    return rec


# --- run-level additions: ICL, tokens per chunk, per model, goodput, rows -------------------------------


def test_run_level_icl_and_tokens_per_chunk_exclude_the_failed_request() -> None:
    metrics = token_metrics(_recording())
    # ICL: request 1 gaps 30, 60, 10; request 2 has one chunk; request 3 gaps 20, 40.
    _check_summary(metrics["icl_ms"], [30.0, 60.0, 10.0, 20.0, 40.0])
    # Chunks: 1, 1, 3, 1 (request 1), 1 (request 2), 2, 2, 2 (request 3); the failed request's 5 is out.
    _check_summary(metrics["tokens_per_chunk"], [1, 1, 3, 1, 1, 2, 2, 2])


def test_per_model_metrics_have_the_overall_keys() -> None:
    metrics = token_metrics(_recording())
    per_model = metrics["per_model"]
    assert set(per_model) == {"gpt2", "(unknown)"}  # only request 1 names a model
    overall_keys = set(metrics) - {"per_request", "per_model", "token_count_source"}
    assert all(set(group) == overall_keys for group in per_model.values())
    gpt2 = per_model["gpt2"]
    assert (gpt2["requests"], gpt2["output_tokens"]) == (1, 6)
    assert gpt2["ttft_ms"]["mean"] == pytest.approx(100.0)
    assert gpt2["output_tokens_per_s"] == pytest.approx(6 / 0.200)  # its own window: 0 to 200 ms
    unknown = per_model["(unknown)"]
    assert (unknown["requests"], unknown["failed_requests"], unknown["output_tokens"]) == (3, 1, 13)
    # Requests 2 and 3: sends at 50 and 100 ms, last arrival at 210 ms.
    assert unknown["request_throughput_per_s"] == pytest.approx(2 / 0.160)
    assert unknown["count_mismatch_requests"] == [3]


def test_goodput_is_added_overall_and_per_model_when_an_slo_is_given() -> None:
    assert "goodput" not in token_metrics(_recording())
    metrics = token_metrics(_recording(), slo={"ttft_ms": 60.0})
    # TTFTs 100 (misses), 30 and 50 (meet); request 4 failed: 2 of 4 met, over the 210 ms window.
    good = metrics["goodput"]
    assert (good["requests"], good["met"], good["failed"]) == (4, 2, 1)
    assert good["share"] == pytest.approx(0.5)
    assert good["per_s"] == pytest.approx(2 / 0.210)
    assert good["violations"] == {"ttft_ms": 1}
    assert metrics["per_model"]["gpt2"]["goodput"]["met"] == 0
    assert metrics["per_model"]["(unknown)"]["goodput"]["met"] == 2


def test_request_rows_carry_the_breakdown_and_dependencies() -> None:
    rec = _recording()
    rec.add_span(_llm(20, 300, 420, send_ns=305 * MS, headers_ns=330 * MS, depends_on=[1]))
    rec.add_token(TokenEvent(20, 350 * MS, 1))
    rec.add_token(TokenEvent(20, 410 * MS, 1))
    rows = {row["request_id"]: row for row in token_metrics(rec)["per_request"]}
    row = rows[20]
    assert row["depends_on"] == [1]
    # queue 305 - 300, connect 0 (reused), headers 330 - 305, first token 350 - 330, decode 410 - 350,
    # tail 420 - 410; no parse time recorded.
    expected = {"queue_ms": 5.0, "connect_ms": 0.0, "headers_ms": 25.0, "first_token_ms": 20.0}
    expected |= {"decode_ms": 60.0, "tail_ms": 10.0, "parse_ms": None}
    assert {key: row[key] for key in expected} == pytest.approx(expected)
    assert rows[3]["count_mismatch"] is True and rows[1]["count_mismatch"] is False
    assert rows[1]["depends_on"] == []


def test_run_level_concurrency_counts_every_request() -> None:
    concurrency = token_metrics(_recording())["concurrency"]
    # Spans 0-205, 50-81, 100-211 and the failed 20-400 ms: three at once at most (e.g. 50-81 ms); the
    # time-weighted mean is the summed durations 205 + 31 + 111 + 380 = 727 over the 400 ms window.
    assert concurrency["max_in_flight"] == 3
    assert concurrency["mean_in_flight"] == pytest.approx(727 / 400)
