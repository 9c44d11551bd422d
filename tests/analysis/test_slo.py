"""SLO parsing and goodput on hand-made requests."""

from __future__ import annotations

import pytest

from workbench.analysis.per_request import RequestMetrics, request_metrics
from workbench.analysis.slo import SLO_KEYS, format_slo, goodput, parse_slo
from workbench.model import Span, TokenEvent

MS = 1_000_000


def test_parse_reads_keys_and_millisecond_limits() -> None:
    assert parse_slo("ttft_ms=200,tpot_ms=50,e2e_ms=2000") == {
        "ttft_ms": 200.0,
        "tpot_ms": 50.0,
        "e2e_ms": 2000.0,
    }
    assert parse_slo(" itl_ms = 12.5 , ttft_ms=1e3 ") == {"itl_ms": 12.5, "ttft_ms": 1000.0}


def test_format_reads_back() -> None:
    slo = {"ttft_ms": 200.0, "itl_ms": 12.5}
    assert format_slo(slo) == "ttft_ms=200,itl_ms=12.5"
    assert parse_slo(format_slo(slo)) == slo


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("ttft=200", "'ttft=200'"),  # a key that is not allowed
        ("ttft_ms", "'ttft_ms'"),  # no value
        ("ttft_ms=fast", "'ttft_ms=fast'"),
        ("ttft_ms=-5", "'ttft_ms=-5'"),
        ("ttft_ms=0", "'ttft_ms=0'"),
        ("e2e_ms=inf", "'e2e_ms=inf'"),
        ("ttft_ms=200,,e2e_ms=1", "''"),  # an empty part
        ("ttft_ms=200;e2e_ms=1", "'ttft_ms=200;e2e_ms=1'"),  # the wrong separator
    ],
)
def test_parse_errors_name_the_bad_part_and_the_allowed_keys(text: str, named: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_slo(text)
    message = str(error.value)
    assert named in message
    assert ", ".join(SLO_KEYS) in message


def test_parse_rejects_an_empty_slo_and_a_repeated_key() -> None:
    with pytest.raises(ValueError, match="empty SLO"):
        parse_slo("  ")
    with pytest.raises(ValueError, match="'ttft_ms' given twice"):
        parse_slo("ttft_ms=200,ttft_ms=100")


def _request(span_id: int, send_ms: float, *arrivals_ms: float, **attrs: object) -> RequestMetrics:
    span = Span(
        span_id, f"r{span_id}", "llm", int(send_ms * MS), int((arrivals_ms[-1] + 1) * MS), attrs=attrs
    )
    return request_metrics(span, [TokenEvent(span_id, int(t * MS), 1) for t in arrivals_ms])


# Sent at 0 ms; tokens at the times given.
FAST = _request(1, 0, 100, 110, 130)  # TTFT 100, E2E 130, ITL 10 and 20 (mean 15), TPOT 15
SLOW_END = _request(2, 0, 150, 160, 900)  # TTFT 150, E2E 900, ITL 10 and 740 (mean 375)
FAILED = _request(3, 0, 50, 60, error="HTTP 500")  # fast, but failed
WHOLE = _request(4, 0, 300, stream=False)  # non-streaming: E2E 300, TTFT not observable


def test_goodput_counts_a_failed_request_in_the_denominator() -> None:
    result = goodput([FAST, SLOW_END, FAILED], {"ttft_ms": 200.0, "e2e_ms": 500.0}, window_s=2.0)
    # FAST meets both; SLOW_END misses e2e (900 > 500); FAILED never meets: 1 of 3.
    assert (result["requests"], result["met"], result["failed"]) == (3, 1, 1)
    assert result["share"] == pytest.approx(1 / 3)
    assert result["per_s"] == pytest.approx(0.5)  # 1 request over 2 s
    assert result["violations"] == {"ttft_ms": 0, "e2e_ms": 1}
    assert result["slo"] == {"ttft_ms": 200.0, "e2e_ms": 500.0}


def test_an_unobservable_metric_does_not_meet_its_bound() -> None:
    # The non-streaming request has no TTFT: a TTFT bound cannot be met; an E2E bound can.
    assert goodput([WHOLE], {"ttft_ms": 1000.0}, window_s=1.0)["met"] == 0
    assert goodput([WHOLE], {"ttft_ms": 1000.0}, window_s=1.0)["violations"] == {"ttft_ms": 1}
    assert goodput([WHOLE], {"e2e_ms": 300.0}, window_s=1.0)["met"] == 1  # bounds are inclusive


def test_itl_bound_applies_to_the_requests_mean_itl() -> None:
    # FAST's ITL samples are 10 and 20 ms: the mean 15 meets 15 and misses 14.9, though one sample is 20.
    assert goodput([FAST], {"itl_ms": 15.0}, window_s=1.0)["met"] == 1
    assert goodput([FAST], {"itl_ms": 14.9}, window_s=1.0)["met"] == 0
    assert goodput([FAST, SLOW_END], {"tpot_ms": 20.0}, window_s=1.0)["violations"] == {"tpot_ms": 1}


def test_goodput_without_requests_or_window() -> None:
    result = goodput([], {"e2e_ms": 1.0}, window_s=0.0)
    assert (result["requests"], result["met"], result["share"], result["per_s"]) == (0, 0, None, None)


def test_goodput_rejects_an_unknown_key() -> None:
    with pytest.raises(ValueError, match="latency_ms"):
        goodput([FAST], {"latency_ms": 1.0}, window_s=1.0)
