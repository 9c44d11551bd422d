"""The communication breakdown of one request, from hand-placed timestamps (ms on the run clock)."""

from __future__ import annotations

import pytest

from workbench.analysis.breakdown import PHASES, breakdown_summary, request_breakdown
from workbench.analysis.per_request import request_metrics
from workbench.analysis.tokens import token_metrics
from workbench.model import Recording, Span, TokenEvent

MS = 1_000_000


def _span(span_id: int, start_ms: float, end_ms: float, **attrs_ms: float | bool) -> Span:
    # Attributes ending in _ns are given in ms here for readability.
    attrs = {k: int(v * MS) if k.endswith("_ns") else v for k, v in attrs_ms.items()}
    return Span(span_id, f"req{span_id}", "llm", int(start_ms * MS), int(end_ms * MS), attrs=attrs)


def _tokens(request_id: int, *t_ms: float) -> list[TokenEvent]:
    return [TokenEvent(request_id, int(t * MS), 1) for t in t_ms]


# A request on a new connection: the client call starts at 0, waits 5 ms in the pool, connects from 5 to
# 15 ms (TLS until 20), sends at 20, gets headers at 70, tokens from 100 to 200 and closes at 210 ms; the
# SDK spent 4 ms turning the stream into objects.
FULL = _span(
    1, 0, 210, connect_start_ns=5, connect_end_ns=15, send_ns=20, headers_ns=70, body_end_ns=205, parse_ns=4
)
FULL_TOKENS = _tokens(1, 100, 150, 200)


def _breakdown(span: Span, tokens: list[TokenEvent]) -> dict[str, float | None]:
    return request_breakdown(span, request_metrics(span, tokens))


def test_every_phase_of_a_request_on_a_new_connection() -> None:
    b = _breakdown(FULL, FULL_TOKENS)
    assert b == pytest.approx(
        {
            "queue_ms": 5.0,  # 5 - 0: waiting before the connection was opened
            "connect_ms": 15.0,  # 20 - 5: connect and TLS until the request went out
            "headers_ms": 50.0,  # 70 - 20
            "first_token_ms": 30.0,  # 100 - 70
            "decode_ms": 100.0,  # 200 - 100
            "tail_ms": 10.0,  # 210 - 200
            "parse_ms": 4.0,
        }
    )
    assert list(b) == list(PHASES)


def test_phases_without_parse_add_up_to_the_span() -> None:
    b = _breakdown(FULL, FULL_TOKENS)
    phases = sum(v for k, v in b.items() if k != "parse_ms" and v is not None)
    assert phases == pytest.approx(FULL.duration_ns / MS)


def test_a_reused_connection_connects_in_zero_and_queues_until_send() -> None:
    span = _span(2, 0, 120, send_ns=8, headers_ns=40)
    b = _breakdown(span, _tokens(2, 60, 100))
    assert b["queue_ms"] == pytest.approx(8.0)
    assert b["connect_ms"] == 0.0
    assert b["headers_ms"] == pytest.approx(32.0)


def test_a_manual_span_has_only_the_phases_its_tokens_give() -> None:
    span = _span(3, 0, 120)
    b = _breakdown(span, _tokens(3, 60, 100))
    assert b["decode_ms"] == pytest.approx(40.0)
    assert b["tail_ms"] == pytest.approx(20.0)
    for phase in ("queue_ms", "connect_ms", "headers_ms", "first_token_ms", "parse_ms"):
        assert b[phase] is None, phase


def test_a_non_streaming_request_has_no_decode_phase() -> None:
    span = _span(4, 0, 520, send_ns=10, headers_ns=500, stream=False)
    b = _breakdown(span, [TokenEvent(4, 510 * MS, 40)])
    assert b["headers_ms"] == pytest.approx(490.0)  # the server answered with headers after generating
    assert b["first_token_ms"] == pytest.approx(10.0)  # the body, 10 ms after the headers
    assert b["decode_ms"] is None
    assert b["tail_ms"] == pytest.approx(10.0)


def test_summary_per_phase_skips_requests_that_lack_it() -> None:
    rows = [
        {"queue_ms": 5.0, "decode_ms": 100.0},
        {"queue_ms": None, "decode_ms": 40.0},
        {"queue_ms": 15.0, "decode_ms": 10.0},
    ]
    summary = breakdown_summary(rows)
    assert set(summary) == set(PHASES)
    assert summary["queue_ms"]["mean"] == pytest.approx(10.0)  # (5 + 15) / 2, not / 3
    assert summary["decode_ms"]["p50"] == pytest.approx(40.0)
    assert summary["parse_ms"]["mean"] is None


def test_run_breakdown_leaves_out_failed_requests() -> None:
    rec = Recording()
    rec.add_span(FULL)
    rec.add_span(_span(5, 0, 900, send_ns=300, error="TimeoutError"))
    for event in FULL_TOKENS:
        rec.add_token(event)
    breakdown = token_metrics(rec)["breakdown_ms"]
    assert breakdown["queue_ms"]["mean"] == pytest.approx(5.0)  # not (5 + 300) / 2
