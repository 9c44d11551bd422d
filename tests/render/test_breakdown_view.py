"""The communication breakdown's view-model: phases stacked from 0 per request, parse apart, run means."""

from __future__ import annotations

import pytest

from workbench.render.breakdown_view import BreakdownView
from workbench.render.palette import PHASE_COLORS

from .synthetic import http_run


def _stack(view: BreakdownView, request_id: int) -> list[tuple[str, float, float]]:
    return [(b.phase, b.left_ms, b.right_ms) for b in view.bars if b.request_id == request_id]


def test_phases_stack_from_zero_in_time_order() -> None:
    view = BreakdownView.from_run(http_run())
    # Request 3: queue 2, connect 8, headers 40, first token 50, decode 30, tail 10 ms.
    assert _stack(view, 3) == [
        ("queue", 0.0, 2.0),
        ("connect", 2.0, 10.0),
        ("headers", 10.0, 50.0),
        ("first_token", 50.0, 100.0),
        ("decode", 100.0, 130.0),
        ("tail", 130.0, 140.0),
    ]
    assert all(b.color == PHASE_COLORS[b.phase] for b in view.bars)


def test_a_stack_adds_up_to_the_requests_span() -> None:
    run = http_run()
    view = BreakdownView.from_run(run)
    spans = {s.span_id: s for s in run.recording.spans}
    for request_id in (3, 4, 5, 7):
        span = spans[request_id]
        assert span.end_ns is not None
        assert _stack(view, request_id)[-1][2] == pytest.approx((span.end_ns - span.start_ns) / 1e6)


def test_parse_is_a_bar_of_its_own_not_part_of_the_stack() -> None:
    view = BreakdownView.from_run(http_run())
    assert [(b.request_id, b.left_ms, b.right_ms) for b in view.parse] == [(3, 0.0, 5.0)]
    assert "parse" not in {b.phase for b in view.bars}
    assert view.bar_columns("parse")["duration_ms"] == [5.0]


def test_unobserved_phases_are_left_out_and_named() -> None:
    view = BreakdownView.from_run(http_run())
    # The manual request has no wire timings: only decode and tail are known.
    assert _stack(view, 8) == [("decode", 0.0, 40.0), ("tail", 40.0, 70.0)]
    bar = next(b for b in view.bars if b.request_id == 8)
    assert bar.not_observed == (
        "in the client before send, connecting, waiting for headers, waiting for first token"
    )
    # The failed request never got headers; its reused connection took 0 ms.
    assert _stack(view, 6) == [("queue", 0.0, 2.0), ("connect", 2.0, 2.0)]
    assert all(b.failed for b in view.bars if b.request_id == 6)
    assert "answer c #6 · failed" in view.labels


def test_means_per_phase_are_the_runs_breakdown() -> None:
    run = http_run()
    view = BreakdownView.from_run(run)
    expected = run.metrics["tokens"]["breakdown_ms"]
    for mean in view.means:
        assert mean.mean_ms == pytest.approx(expected[f"{mean.phase}_ms"]["mean"])
    # Successful requests only: queue over 3, 4, 5 and 7 (2, 1, 5, 5 ms), the manual one has none.
    assert view.mean_of("queue").mean_ms == pytest.approx(3.25)
    assert view.mean_of("queue").legend == "in the client before send · mean 3.2 ms"
    assert view.mean_of("parse").legend == "SDK parsing (during decode) · mean 5.0 ms"


def test_labels_and_cap() -> None:
    view = BreakdownView.from_run(http_run(), max_requests=3)
    assert view.labels == ["plan #3", "answer a #4", "answer b #5"]
    assert view.capped and view.total_requests == 6


def test_same_view_without_stored_metrics() -> None:
    assert BreakdownView.from_run(http_run(with_metrics=False)) == BreakdownView.from_run(http_run())
