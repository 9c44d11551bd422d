"""The request waterfall and requests-in-flight view-models, against hand-computed phases of `http_run()`.

Timestamps of http_recording() (ms): request 3 starts 100, connect 102, send 110, headers 150, tokens
200..230, ends 240; 4 (reused connection) 250, send 251, headers 280, tokens 300..340, ends 345; 5: 250,
connect 255, send 265, headers 300, tokens 320..360, ends 370; 6 fails: 260, send 262, ends 400 with no
response; 7: 420, send 425, headers 450, tokens 500..590, ends 600; 8 (no wire timings): 710, tokens
730..770, ends 800.
"""

from __future__ import annotations

import math

import pytest

from workbench.model import Recording, Span, TokenEvent
from workbench.render.palette import PHASE_COLORS
from workbench.render.request_view import InFlightView, WaterfallView

from .synthetic import MS, bare_run, http_run


def _phases(view: WaterfallView, request_id: int) -> list[tuple[str, float, float]]:
    return [(s.phase, s.start_ms, s.end_ms) for s in view.segments if s.request_id == request_id]


def test_one_row_per_request_in_start_order() -> None:
    view = WaterfallView.from_run(http_run())
    assert [(r.row, r.request_id) for r in view.requests] == [(0, 3), (1, 4), (2, 5), (3, 6), (4, 7), (5, 8)]
    assert view.requests[0].label == "plan #3"
    assert not view.capped and view.total_requests == 6


def test_a_request_with_every_wire_timestamp_has_all_six_phases() -> None:
    view = WaterfallView.from_run(http_run())
    assert _phases(view, 3) == [
        ("queue", 100.0, 102.0),
        ("connect", 102.0, 110.0),
        ("headers", 110.0, 150.0),
        ("first_token", 150.0, 200.0),
        ("decode", 200.0, 230.0),
        ("tail", 230.0, 240.0),
    ]
    colours = {s.phase: s.color for s in view.segments}
    assert colours == {phase: PHASE_COLORS[phase] for phase in colours}


def test_a_reused_connection_has_no_connect_segment() -> None:
    view = WaterfallView.from_run(http_run())
    assert [p for p, _, _ in _phases(view, 4)] == ["queue", "headers", "first_token", "decode", "tail"]
    assert _phases(view, 4)[0] == ("queue", 250.0, 251.0)


def test_a_failed_request_waits_for_headers_until_it_fails_and_says_why() -> None:
    view = WaterfallView.from_run(http_run())
    assert _phases(view, 6) == [("queue", 260.0, 262.0), ("headers", 262.0, 400.0)]
    failed = view.requests[3]
    assert failed.failed and failed.status == "failed"
    assert failed.error == "ReadTimeout: timed out"
    assert math.isnan(failed.ttft_ms)
    assert [r.failed for r in view.requests].count(True) == 1


def test_a_request_without_wire_timings_shows_send_first_and_last_token_only() -> None:
    view = WaterfallView.from_run(http_run())
    assert _phases(view, 8) == [("first_token", 710.0, 730.0), ("decode", 730.0, 770.0)]
    assert not view.requests[5].wire and view.requests[0].wire


def test_markers_at_send_first_and_last_token() -> None:
    view = WaterfallView.from_run(http_run())
    marks = {(m.request_id, m.event): m.t_ms for m in view.markers}
    assert marks[(3, "send")] == 110.0
    assert marks[(3, "first token")] == 200.0
    assert marks[(3, "last token")] == 230.0
    assert marks[(8, "send")] == 710.0  # the span's start stands in for the send
    assert (6, "first token") not in marks and (6, "send") in marks


def test_hover_columns_carry_the_request_details_on_every_segment() -> None:
    view = WaterfallView.from_run(http_run())
    data = view.segment_columns()
    i = data["request_id"].index(7)
    assert data["label"][i] == "summarize #7"
    assert data["model"][i] == "model-a"
    assert data["ttft_ms"][i] == pytest.approx(25.0 + 50.0)
    assert data["tpot_ms"][i] == pytest.approx(90.0 / 3)  # the server's 4 tokens
    assert data["tokens"][i] == "4 (server), the client counted 3"
    assert (data["ttft"][i], data["tpot"][i], data["e2e"][i]) == ("75.0 ms", "30.00 ms", "165.0 ms")
    j = data["request_id"].index(6)
    assert data["error"][j] == "ReadTimeout: timed out" and data["status"][j] == "failed"
    assert data["ttft"][j] == "n/a"  # not "NaN"
    requests = view.request_columns()
    assert requests["phase_title"][0] == "whole request (span)"
    assert requests["duration_ms"][0] == pytest.approx(140.0)


def test_rows_are_capped_and_the_cap_is_known() -> None:
    view = WaterfallView.from_run(http_run(), max_requests=2)
    assert [r.request_id for r in view.requests] == [3, 4]
    assert view.capped and view.total_requests == 6
    assert {s.request_id for s in view.segments} == {3, 4}


def test_an_open_request_runs_to_the_end_of_the_run() -> None:
    rec = Recording()
    rec.add_span(Span(1, "hanging", "llm", 10 * MS, None, attrs={"send_ns": 12 * MS, "headers_ns": 20 * MS}))
    rec.add_token(TokenEvent(1, 30 * MS, 1))
    view = WaterfallView.from_run(bare_run(rec, 100.0))
    assert view.requests[0].status == "open at run end"
    assert view.requests[0].end_ms == 100.0
    assert _phases(view, 1)[-1] == ("tail", 30.0, 100.0)


def test_no_requests_no_waterfall() -> None:
    rec = Recording()
    rec.add_span(Span(1, "retrieve", "retrieval", 0, 10 * MS))
    assert WaterfallView.from_run(bare_run(rec)).empty
    assert InFlightView.from_run(bare_run(rec)).empty


def test_requests_in_flight_step_from_zero_to_the_run_end() -> None:
    run = http_run()
    view = InFlightView.from_run(run)
    steps = list(zip(view.t_ms, view.count, strict=True))
    assert steps == [
        (0.0, 0),
        (100.0, 1),
        (240.0, 0),
        (250.0, 2),
        (260.0, 3),
        (345.0, 2),
        (370.0, 1),
        (400.0, 0),
        (420.0, 1),
        (600.0, 0),
        (710.0, 1),
        (800.0, 0),
        (1000.0, 0),
    ]
    assert view.max_in_flight == 3
    assert view.mean_in_flight == pytest.approx(run.metrics["tokens"]["concurrency"]["mean_in_flight"])


def test_views_of_a_run_saved_without_the_new_metrics_are_the_same() -> None:
    assert WaterfallView.from_run(http_run(with_metrics=False)) == WaterfallView.from_run(http_run())
    assert InFlightView.from_run(http_run(with_metrics=False)) == InFlightView.from_run(http_run())


def test_on_the_wire_line_appears_when_the_client_held_requests_back() -> None:
    rec = Recording()
    # Two calls at 0 ms; the second waits for the first's connection until 50 ms.
    rec.add_span(Span(1, "a", "llm", 0, 50 * MS, attrs={"send_ns": 0}))
    rec.add_span(Span(2, "b", "llm", 0, 100 * MS, attrs={"send_ns": 50 * MS}))
    view = InFlightView.from_run(bare_run(rec, 100.0))
    assert (view.max_in_flight, view.max_on_the_wire, view.held_back) == (2, 1, True)
    assert list(zip(view.wire_t_ms, view.wire_count, strict=True)) == [(0.0, 1), (100.0, 0)]
    # Sent as soon as called: the two lines are one, and no second line is drawn.
    rec.spans[1].attrs["send_ns"] = 0
    assert not InFlightView.from_run(bare_run(rec, 100.0)).held_back
