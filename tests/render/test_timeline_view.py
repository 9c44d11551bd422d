"""The timeline's view-model: lanes by nesting, open spans, token arrivals on their request's row."""

from __future__ import annotations

import itertools

import pytest

from workbench.model import Recording, Span, TokenEvent
from workbench.render.timeline_view import TimelineView

from .synthetic import MS, bare_run


def _run(
    spans: list[Span], tokens: list[TokenEvent] | None = None, duration_ms: float = 100.0
) -> TimelineView:
    rec = Recording()
    for span in spans:
        rec.add_span(span)
    for token in tokens or []:
        rec.add_token(token)
    return TimelineView.from_run(bare_run(rec, duration_ms))


def _lanes(view: TimelineView) -> dict[str, int]:
    return {b.name: b.lane for b in view.bars}


def test_children_sit_below_their_parent() -> None:
    view = _run(
        [
            Span(1, "root", "chain", 0, 100 * MS),
            Span(2, "child", "retrieval", 10 * MS, 40 * MS, parent_id=1),
            Span(3, "grandchild", "embedding", 15 * MS, 20 * MS, parent_id=2),
            Span(4, "later child", "llm", 50 * MS, 90 * MS, parent_id=1),
        ]
    )
    lanes = _lanes(view)
    assert lanes == {"root": 0, "child": 1, "grandchild": 2, "later child": 1}
    assert view.lanes == 3


def test_overlapping_siblings_do_not_share_a_lane() -> None:
    spans = [
        Span(1, "root", "chain", 0, 100 * MS),
        Span(2, "request a", "llm", 10 * MS, 60 * MS, parent_id=1),
        Span(3, "request b", "llm", 30 * MS, 80 * MS, parent_id=1),
        Span(4, "inside a", "parse", 12 * MS, 20 * MS, parent_id=2),
    ]
    view = _run(spans)
    lanes = _lanes(view)
    assert lanes["request a"] >= 1 and lanes["request b"] >= 1
    assert lanes["request a"] != lanes["request b"]
    assert lanes["inside a"] > lanes["request a"]
    by_lane: dict[int, list[tuple[float, float]]] = {}
    for bar in view.bars:
        by_lane.setdefault(bar.lane, []).append((bar.start_ms, bar.end_ms))
    for intervals in by_lane.values():
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            assert end <= start


def test_open_span_ends_at_the_end_of_the_run() -> None:
    view = _run([Span(1, "still running", "llm", 40 * MS, None)], duration_ms=250.0)
    (bar,) = view.bars
    assert bar.open
    assert bar.end_ms == pytest.approx(250.0)
    assert bar.duration_ms == pytest.approx(210.0)


def test_token_arrivals_are_on_their_requests_row_in_ms() -> None:
    spans = [
        Span(1, "root", "chain", 0, 100 * MS),
        Span(2, "first", "llm", 10 * MS, 40 * MS, parent_id=1),
        Span(3, "second", "llm", 20 * MS, 90 * MS, parent_id=1),
    ]
    tokens = [TokenEvent(2, 25 * MS, 1), TokenEvent(3, 30 * MS, 2), TokenEvent(2, 35 * MS, 1)]
    view = _run(spans, tokens)
    lanes = _lanes(view)
    rows = {(t.request_id, t.t_ms, t.lane) for t in view.tokens}
    assert rows == {(2, 25.0, lanes["first"]), (3, 30.0, lanes["second"]), (2, 35.0, lanes["first"])}
    data = view.token_columns()
    assert data["y"] == [lane + 0.5 for lane in data["lane"]]


def test_tokens_without_a_span_get_a_row_of_their_own() -> None:
    view = _run([Span(1, "root", "chain", 0, 100 * MS)], [TokenEvent(99, 5 * MS, 1)])
    (token,) = view.tokens
    assert token.lane == 1
    assert "no span" in token.request
    assert view.lanes == 2


def test_parent_cycles_and_missing_parents_still_get_lanes() -> None:
    view = _run(
        [
            Span(1, "orphan", "chain", 0, 10 * MS, parent_id=42),
            Span(2, "loop a", "chain", 20 * MS, 30 * MS, parent_id=3),
            Span(3, "loop b", "chain", 20 * MS, 30 * MS, parent_id=2),
        ]
    )
    lanes = _lanes(view)
    assert lanes["orphan"] == 0
    assert set(lanes) == {"orphan", "loop a", "loop b"}
    assert lanes["loop a"] != lanes["loop b"]


def test_an_empty_run_has_an_empty_timeline() -> None:
    view = _run([])
    assert view.empty and view.lanes == 0
    assert view.duration_ms == pytest.approx(100.0)


def test_many_token_arrivals_merge_into_dots_per_request_and_bin() -> None:
    from workbench.render.timeline_view import MAX_TOKEN_DOTS, TOKEN_BINS

    spans = [Span(1, "a", "llm", 0, 1000 * MS), Span(2, "b", "llm", 0, 1000 * MS)]
    # Two requests, an arrival every 20 µs each: more than MAX_TOKEN_DOTS in all.
    n = MAX_TOKEN_DOTS
    tokens = [TokenEvent(1 + i % 2, (i // 2) * 20_000, 1 + i % 3) for i in range(n + 2)]
    view = _run(spans, tokens, duration_ms=1000.0)
    bin_ms = 1000.0 / TOKEN_BINS
    assert view.token_bin_ms == bin_ms
    assert sum(t.n_tokens for t in view.tokens) == sum(t.n_tokens for t in tokens)
    keys = [(t.request_id, int(t.t_ms // bin_ms)) for t in view.tokens]
    assert len(keys) == len(set(keys)) < n / 10
    small = _run(spans, tokens[:100], duration_ms=1000.0)
    assert small.token_bin_ms == 0.0 and len(small.tokens) == 100


def test_beyond_the_bar_limit_the_root_the_path_and_the_longest_spans_are_drawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import workbench.render.timeline_view as timeline

    monkeypatch.setattr(timeline, "MAX_SPAN_BARS", 20)
    # A cell of 100 short parse steps one after another, every tenth a long one, then one LLM call last.
    spans = [Span(1, "cell", "cell", 0, 1200 * MS, parent_id=None)]
    for i in range(100):
        length = 5 * MS if i % 10 == 0 else MS // 10
        spans.append(Span(2 + i, f"step {i}", "parse", i * 10 * MS, i * 10 * MS + length, parent_id=1))
    spans.append(Span(200, "generate", "llm", 1000 * MS, 1200 * MS, parent_id=1))
    view = _run(spans, duration_ms=1200.0)
    names = {b.name for b in view.bars}
    assert len(view.bars) == 20 and view.spans_total == 102
    assert {"cell", "generate"} <= names  # the root, and the path's last and longest span
    assert {f"step {i}" for i in range(0, 100, 10)} <= names  # the long steps before the short ones
    starts = [b.start_ms for b in view.bars if b.kind == "parse"]
    assert starts == sorted(starts)  # still in recording order
    monkeypatch.setattr(timeline, "MAX_SPAN_BARS", 500)
    assert _run(spans, duration_ms=1200.0).spans_total == 0  # all drawn: no note in the title
