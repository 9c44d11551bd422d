"""Requests in flight over time, on hand-placed LLM spans (ms on the run clock)."""

from __future__ import annotations

import pytest

from workbench.analysis.concurrency import in_flight_series, in_flight_summary, requests_in_flight
from workbench.model import Recording, Span, TokenEvent

MS = 1_000_000


def _rec(*spans: tuple[int, float, float | None, str]) -> Recording:
    rec = Recording()
    for span_id, start, end, kind in spans:
        rec.add_span(Span(span_id, "s", kind, int(start * MS), None if end is None else int(end * MS)))
    return rec


def _ms(series: list[tuple[int, int]]) -> list[tuple[float, int]]:
    return [(t / MS, n) for t, n in series]


def test_overlapping_requests_step_up_and_down() -> None:
    # 0-100 and 50-150 overlap from 50 to 100; a retrieval span is not a request.
    rec = _rec((1, 0, 100, "llm"), (2, 50, 150, "llm"), (3, 20, 200, "retrieval"))
    series = requests_in_flight(rec)
    assert _ms(series) == [(0, 1), (50, 2), (100, 1), (150, 0)]
    # Time-weighted: 1 x 50 + 2 x 50 + 1 x 50 = 200 request-ms over 150 ms.
    assert in_flight_summary(series) == {"max_in_flight": 2, "mean_in_flight": pytest.approx(200 / 150)}


def test_back_to_back_requests_are_never_two_at_once() -> None:
    rec = _rec((1, 0, 100, "llm"), (2, 100, 180, "llm"))
    series = requests_in_flight(rec)
    assert _ms(series) == [(0, 1), (180, 0)]  # nothing changes at 100 ms: one ends as the next starts
    assert in_flight_summary(series) == {"max_in_flight": 1, "mean_in_flight": pytest.approx(1.0)}


def test_a_gap_with_nothing_in_flight_lowers_the_mean() -> None:
    rec = _rec((1, 0, 100, "llm"), (2, 300, 400, "llm"))
    # 200 request-ms over a 400 ms window, with 0 in flight from 100 to 300 ms.
    assert _ms(requests_in_flight(rec)) == [(0, 1), (100, 0), (300, 1), (400, 0)]
    assert in_flight_summary(requests_in_flight(rec))["mean_in_flight"] == pytest.approx(0.5)


def test_an_open_request_counts_until_the_last_thing_recorded() -> None:
    rec = _rec((1, 0, 100, "llm"), (2, 50, None, "llm"))
    rec.add_token(TokenEvent(2, 250 * MS, 1))
    assert _ms(requests_in_flight(rec)) == [(0, 1), (50, 2), (100, 1), (250, 0)]
    # Without a time to close it at, an open span is left out.
    assert _ms(in_flight_series(rec.spans)) == [(0, 1), (100, 0)]


def test_zero_length_requests_and_empty_runs() -> None:
    rec = _rec((1, 10, 10, "llm"))
    assert requests_in_flight(rec) == []
    assert in_flight_summary([]) == {"max_in_flight": 0, "mean_in_flight": None}


def test_on_the_wire_counts_from_the_send_so_a_client_side_wait_shows() -> None:
    from workbench.analysis.concurrency import concurrency_summary, requests_on_the_wire

    # Three calls at 0 ms through a pool of one connection: sent at 0, 100 and 200 ms, 100 ms each.
    rec = Recording()
    for span_id, send_ms in ((1, 0), (2, 100), (3, 200)):
        attrs = {"send_ns": int(send_ms * MS)}
        rec.add_span(Span(span_id, "s", "llm", 0, int((send_ms + 100) * MS), attrs=attrs))
    assert _ms(requests_in_flight(rec)) == [(0, 3), (100, 2), (200, 1), (300, 0)]
    assert _ms(requests_on_the_wire(rec)) == [(0, 1), (300, 0)]
    summary = concurrency_summary(rec.spans, None)
    assert (summary["max_in_flight"], summary["max_on_the_wire"]) == (3, 1)
    assert summary["mean_on_the_wire"] == pytest.approx(1.0)
