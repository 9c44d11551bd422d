"""The critical path in the timeline, the stage table and the parallelizable estimate."""

from __future__ import annotations

import pytest

from workbench.model import Recording, Span
from workbench.render.palette import span_kind_color
from workbench.render.stage_view import StageView
from workbench.render.tables import StageTableRenderer
from workbench.render.timeline_view import TimelineView

from .synthetic import MS, bare_run, http_run, realistic_run


def test_stage_rows_per_kind_largest_critical_time_first() -> None:
    view = StageView.from_run(http_run())
    rows = [(r.kind, r.count, r.wall_ms, r.critical_ms) for r in view.rows]
    assert rows == [
        ("llm", 6, 560.0, 550.0),
        ("cell", 1, 1000.0, 270.0),
        ("parse", 1, 90.0, 90.0),
        ("retrieval", 1, 90.0, 90.0),
    ]
    assert view.rows[0].critical_share == pytest.approx(0.55)
    assert view.rows[0].wall_share == pytest.approx(0.56)
    assert view.total_ms == pytest.approx(1000.0)
    assert view.has_stages


def test_the_path_goes_through_the_sequential_calls_not_the_concurrent_ones() -> None:
    view = StageView.from_run(http_run())
    assert [(s.name, s.start_ms, s.end_ms) for s in view.segments[:4]] == [
        ("(cell code)", 0.0, 10.0),
        ("retrieve", 10.0, 100.0),
        ("plan", 100.0, 240.0),
        ("(cell code)", 240.0, 260.0),
    ]
    assert view.path_span_ids == {1, 2, 3, 6, 7, 8, 9}
    assert view.segments[2].color == span_kind_color("llm")


def test_parallelizable_sentence() -> None:
    view = StageView.from_run(http_run())
    # 3, 6 and 7 ran one after another (140 + 140 + 180 ms); 7 depends on 3, so at best 320 ms.
    assert view.saving_ms == pytest.approx(140.0)
    assert view.parallel_calls == 3
    sentence = view.parallel_sentence()
    assert sentence is not None
    assert sentence.startswith(
        "estimated: 140.0 ms could be saved if 3 independent sequential LLM calls ran concurrently — "
        "requests with no detected dependency"
    )


def test_no_saving_no_sentence() -> None:
    rec = Recording()
    rec.add_span(Span(1, "cell", "cell", 0, 100 * MS))
    rec.add_span(Span(2, "only call", "llm", 10 * MS, 90 * MS, parent_id=1))
    view = StageView.from_run(bare_run(rec, 100.0))
    assert view.has_stages and view.saving_ms == 0.0
    assert view.parallel_sentence() is None


def test_a_root_alone_or_no_cell_root_has_no_stages() -> None:
    rec = Recording()
    rec.add_span(Span(1, "cell", "cell", 0, 100 * MS))
    assert not StageView.from_run(bare_run(rec, 100.0)).has_stages
    assert not StageView.from_run(realistic_run()).has_stages  # its root is a "chain", not a cell
    assert StageTableRenderer().render(realistic_run()) is None


def test_same_view_without_stored_metrics() -> None:
    assert StageView.from_run(http_run(with_metrics=False)) == StageView.from_run(http_run())


def test_timeline_puts_the_critical_path_on_top_and_marks_the_spans_on_it() -> None:
    view = TimelineView.from_run(http_run())
    lanes = {b.name: b.lane for b in view.bars}
    assert lanes["agent cell"] == 1  # the path has lane 0
    assert min(lanes.values()) == 1
    critical = {b.name for b in view.bars if b.critical}
    assert critical == {
        "agent cell",
        "retrieve",
        "plan",
        "answer c",
        "summarize",
        "postprocess",
        "local generate",
    }
    assert [p.name for p in view.path] == [s.name for s in StageView.from_run(http_run()).segments]
    data = view.path_columns()
    assert set(data["y"]) == {0.5}
    assert data["x1"][-1] == pytest.approx(1000.0)


def test_timeline_without_a_path_keeps_its_lanes() -> None:
    view = TimelineView.from_run(realistic_run())
    assert view.path == []
    assert min(b.lane for b in view.bars) == 0
    assert not any(b.critical for b in view.bars)


def test_stage_table_html() -> None:
    div = StageTableRenderer().render(http_run())
    assert div.name == "stage_table"
    text = div.text
    assert "critical path 1,000.0 ms" in text
    assert "<td>560.0</td><td>56%</td><td>550.0</td><td>55%</td>" in text
    assert "estimated: 140.0 ms could be saved if 3 independent" in text
    assert text.index(">llm<") < text.index(">cell<") < text.index(">parse<")
