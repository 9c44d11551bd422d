"""The critical path, per-kind stage times and the parallelizable-LLM estimate on hand-built span trees."""

from __future__ import annotations

import json
from typing import Any

import pytest

from workbench.analysis.critical_path import (
    ROOT_SELF_NAME,
    CriticalPath,
    critical_path,
    parallelizable_llm,
    stage_breakdown,
    stage_metrics,
    union_ns,
)
from workbench.model import Recording, Span

MS = 1_000_000


def _span(
    span_id: int, kind: str, start_ms: float, end_ms: float | None, parent: int | None = 1, **attrs: Any
) -> Span:
    end = None if end_ms is None else int(end_ms * MS)
    return Span(span_id, f"{kind}{span_id}", kind, int(start_ms * MS), end, parent_id=parent, attrs=attrs)


def _rec(*spans: Span) -> Recording:
    rec = Recording()
    for span in spans:
        rec.add_span(span)
    return rec


def pipeline() -> Recording:
    """A 1000 ms cell (ms):

    cell 1          0 ------------------------------------------------------------------- 1000
    retrieval 2       50 ---- 200
      embedding 3       60 - 120
    llm 4                          250 ------- 600                   (concurrent requests:
    llm 5                           260 ------------ 700              5 ends last, so it is
    llm 6                            270 ------- 650                  the critical one)
    parse 7                                             720 - 800
    agent 8                                                   800 -------------- 1000
      tool 9 (ends after its parent)                              850 ------------------- 1050
    kernel 10 (no parent: outside the cell's tree)   0 ---- 500
    llm 11 (still open: no interval)                  900 -
    """
    return _rec(
        _span(1, "cell", 0, 1000, parent=None),
        _span(2, "retrieval", 50, 200),
        _span(3, "embedding", 60, 120, parent=2),
        _span(4, "llm", 250, 600),
        _span(5, "llm", 260, 700),
        _span(6, "llm", 270, 650),
        _span(7, "parse", 720, 800),
        _span(8, "agent", 800, 1000),
        _span(9, "tool", 850, 1050, parent=8),
        _span(10, "kernel", 0, 500, parent=None),
        _span(11, "llm", 900, None),
    )


def _segments_ms(path: CriticalPath) -> list[tuple[int, float, float]]:
    return [(s.span_id, s.start_ns / MS, s.end_ns / MS) for s in path.segments]


def test_critical_path_walks_back_through_the_last_finishing_children() -> None:
    path = critical_path(pipeline())
    # Walking back from 1000: agent 8 ended last; inside it tool 9, clipped to 1000, covers 850-1000 and
    # the agent's own code 800-850. Then parse 7 (720-800); the cell's own code 700-720; llm 5 (700 is the
    # latest end <= 720; 4 and 6 end before 700 but after 5 started, so they are not critical); the cell's
    # code 200-260; retrieval 2 with embedding 3 inside it; the cell's code 0-50.
    assert _segments_ms(path) == [
        (1, 0, 50),
        (2, 50, 60),
        (3, 60, 120),
        (2, 120, 200),
        (1, 200, 260),
        (5, 260, 700),
        (1, 700, 720),
        (7, 720, 800),
        (8, 800, 850),
        (9, 850, 1000),
    ]
    assert {s.name for s in path.segments if s.span_id == 1} == {ROOT_SELF_NAME}
    assert path.segments[3].name == "retrieval2"


def test_segments_cover_the_cell_exactly_once() -> None:
    path = critical_path(pipeline())
    assert path.segments[0].start_ns == 0 and path.segments[-1].end_ns == 1000 * MS
    assert all(a.end_ns == b.start_ns for a, b in zip(path.segments, path.segments[1:], strict=False))
    assert path.total_ns == 1000 * MS


def test_per_kind_critical_totals() -> None:
    per_kind = {kind: ns / MS for kind, ns in critical_path(pipeline()).per_kind_ns.items()}
    # cell 50 + 60 + 20; retrieval 10 + 80; llm 440 (request 5 alone); tool 150 (clipped at the cell's end).
    expected = {
        "cell": 130,
        "retrieval": 90,
        "embedding": 60,
        "llm": 440,
        "parse": 80,
        "agent": 50,
        "tool": 150,
    }
    assert per_kind == pytest.approx(expected)


def test_a_child_that_ends_after_its_parent_is_clipped_to_it() -> None:
    rec = _rec(_span(1, "cell", 0, 100, parent=None), _span(2, "llm", 40, 180))
    assert _segments_ms(critical_path(rec)) == [(1, 0, 40), (2, 40, 100)]


def test_sequential_children_that_touch_are_both_critical() -> None:
    # A child ending exactly when the next one starts is still a candidate (end <= cursor).
    rec = _rec(_span(1, "cell", 0, 100, parent=None), _span(2, "llm", 0, 50), _span(3, "tool", 50, 100))
    assert _segments_ms(critical_path(rec)) == [(2, 0, 50), (3, 50, 100)]


def test_deep_nesting_does_not_recurse() -> None:
    depth = 3000
    spans = [_span(1, "cell", 0, 2 * depth, parent=None)]
    spans += [_span(i, "chain", i - 1, 2 * depth - i + 1, parent=i - 1) for i in range(2, depth + 1)]
    path = critical_path(_rec(*spans))
    assert path.total_ns == 2 * depth * MS
    assert len(path.segments) == 2 * depth - 1  # each span's code before and after its child, one innermost


def test_no_cell_root_gives_an_empty_path() -> None:
    rec = _rec(_span(2, "llm", 0, 100, parent=None))
    path = critical_path(rec)
    assert path == CriticalPath(root_id=None)
    assert stage_breakdown(rec, path) == {}
    assert parallelizable_llm(rec, path)["estimated_saving_ms"] == 0


def test_stage_breakdown_per_kind() -> None:
    rec = pipeline()
    stages = stage_breakdown(rec, critical_path(rec))
    assert set(stages) == {"cell", "retrieval", "embedding", "llm", "parse", "agent", "tool"}  # no kernel
    llm = stages["llm"]
    # Three concurrent requests: the union 250-700 is 450 ms, not 350 + 440 + 380; the open one is out.
    assert llm["count"] == 3
    assert llm["wall_ms"] == pytest.approx(450.0)
    assert llm["wall_share"] == pytest.approx(0.45)
    assert llm["critical_ms"] == pytest.approx(440.0)
    assert llm["critical_share"] == pytest.approx(0.44)
    assert stages["tool"]["wall_ms"] == pytest.approx(150.0)  # 850-1050 clipped to the cell's 1000
    assert stages["cell"] == pytest.approx(
        {"count": 1, "wall_ms": 1000.0, "wall_share": 1.0, "critical_ms": 130.0, "critical_share": 0.13}
    )
    assert sum(s["critical_share"] for s in stages.values()) == pytest.approx(1.0)


def test_union_counts_overlaps_once() -> None:
    assert union_ns([(0, 10), (5, 20), (30, 40), (32, 35)]) == 30
    assert union_ns([]) == 0


# --- parallelizable LLM calls ----------------------------------------------------------------------------


def _two_calls(**b_attrs: Any) -> Recording:
    # Cell 0-300: call a 10-110 (100 ms), then call b 120-270 (150 ms), one after the other.
    return _rec(
        _span(1, "cell", 0, 300, parent=None),
        _span(2, "llm", 10, 110),
        _span(3, "llm", 120, 270, **b_attrs),
    )


def _parallel(rec: Recording) -> dict[str, Any]:
    return parallelizable_llm(rec, critical_path(rec))


def test_two_independent_sequential_calls_could_save_the_shorter_one() -> None:
    result = _parallel(_two_calls())
    # Sequential 100 + 150 = 250 ms; at once, the longer 150 ms: saving 100 ms.
    assert result["estimated_saving_ms"] == pytest.approx(100.0)
    [group] = result["groups"]
    assert (group["parent_id"], group["span_ids"]) == (1, [2, 3])
    timings = {key: group[key] for key in ("sequential_ms", "concurrent_ms", "saving_ms")}
    assert timings == pytest.approx({"sequential_ms": 250.0, "concurrent_ms": 150.0, "saving_ms": 100.0})
    assert "estimate" in result["assumption"] and "depends_on" in result["assumption"]


def test_a_dependent_pair_saves_nothing() -> None:
    result = _parallel(_two_calls(depends_on=[2]))  # b's prompt contains a's output
    assert result["estimated_saving_ms"] == pytest.approx(0.0)
    assert result["groups"][0]["concurrent_ms"] == pytest.approx(250.0)


def test_the_longest_dependency_chain_bounds_the_concurrent_time() -> None:
    rec = _rec(
        _span(1, "cell", 0, 500, parent=None),
        _span(2, "llm", 0, 100),  # a: 100 ms
        _span(3, "llm", 100, 250, depends_on=[2]),  # b: 150 ms, after a
        _span(4, "llm", 250, 370, depends_on=[99]),  # c: 120 ms, depends on nothing in this run
    )
    [group] = _parallel(rec)["groups"]
    # Chains a -> b (250 ms) and c (120 ms): 370 ms in sequence, 250 ms at once, saving 120 ms.
    assert group["sequential_ms"] == pytest.approx(370.0)
    assert group["concurrent_ms"] == pytest.approx(250.0)
    assert group["saving_ms"] == pytest.approx(120.0)


def test_another_stage_between_two_calls_breaks_the_run() -> None:
    rec = _rec(
        _span(1, "cell", 0, 400, parent=None),
        _span(2, "llm", 0, 100),
        _span(3, "retrieval", 100, 200),  # may feed the second call's prompt
        _span(4, "llm", 200, 350),
    )
    result = _parallel(rec)
    assert (result["estimated_saving_ms"], result["groups"]) == (0, [])


def test_calls_that_already_overlap_are_not_counted() -> None:
    # b overlaps a, so only b is on the critical path: nothing left to run at once.
    rec = _rec(_span(1, "cell", 0, 300, parent=None), _span(2, "llm", 10, 110), _span(3, "llm", 20, 270))
    assert _parallel(rec)["groups"] == []


def test_runs_are_grouped_by_parent() -> None:
    # Two calls inside an agent span; the agent is the cell's only child.
    rec = _rec(
        _span(1, "cell", 0, 300, parent=None),
        _span(2, "agent", 0, 300),
        _span(3, "llm", 0, 100, parent=2),
        _span(4, "llm", 100, 250, parent=2),
    )
    [group] = _parallel(rec)["groups"]
    assert (group["parent_id"], group["span_ids"], group["saving_ms"]) == (2, [3, 4], pytest.approx(100.0))


def test_stage_metrics_is_plain_data_in_ms() -> None:
    metrics = stage_metrics(pipeline())
    assert set(metrics) == {"critical_path", "per_kind", "parallelizable"}
    path = metrics["critical_path"]
    assert path["root_id"] == 1
    assert path["total_ms"] == pytest.approx(1000.0)
    assert path["per_kind_ms"]["llm"] == pytest.approx(440.0)
    assert path["segments"][5] == pytest.approx(
        {
            "span_id": 5,
            "kind": "llm",
            "name": "llm5",
            "start_ms": 260.0,
            "end_ms": 700.0,
            "duration_ms": 440.0,
        }
    )
    assert metrics["per_kind"]["parse"]["critical_ms"] == pytest.approx(80.0)
    # Only request 5 of the concurrent three is on the path, so no sequential run of calls exists.
    assert metrics["parallelizable"]["estimated_saving_ms"] == 0


def test_a_path_of_many_spans_is_stored_summarized_and_recomputable() -> None:
    # 5,000 stages one after another, every tenth a long one, and 2,000 LLM calls in sequence: the path
    # keeps its longest segments (in time order) and exact totals; the detail comes back from the events.
    spans = [Span(1, "cell", "cell", 0, 8_000 * MS, parent_id=None, attrs={})]
    for i in range(5_000):
        long = i % 10 == 0
        spans.append(_span(2 + i, "parse", i, i + (1.0 if long else 0.1)))
    for i in range(2_000):
        spans.append(_span(10_000 + i, "llm", 5_000 + i * 1.5, 5_000 + i * 1.5 + 1.0))
    rec = _rec(*spans)
    full = stage_metrics(rec, max_segments=None)
    stored = stage_metrics(rec)
    path, whole = stored["critical_path"], full["critical_path"]
    assert path["segment_count"] == len(whole["segments"]) > 500 == len(path["segments"])
    assert path["total_ms"] == whole["total_ms"] and path["per_kind_ms"] == whole["per_kind_ms"]
    starts = [s["start_ms"] for s in path["segments"]]
    assert starts == sorted(starts)
    shortest_kept = min(s["duration_ms"] for s in path["segments"])
    left_out = [s for s in whole["segments"] if s not in path["segments"]]
    assert all(s["duration_ms"] <= shortest_kept for s in left_out)
    assert path["segments_left_out_ms"] == pytest.approx(sum(s["duration_ms"] for s in left_out))
    parallel = stored["parallelizable"]
    assert parallel["estimated_saving_ms"] == full["parallelizable"]["estimated_saving_ms"] > 0
    [group] = parallel["groups"]
    assert group["calls"] == 2_000 and len(group["span_ids"]) == 100
    assert len(json.dumps(stored)) < len(json.dumps(full)) / 10


def test_the_path_is_reused_for_the_same_recording_and_recomputed_when_it_changes() -> None:
    rec = _rec(Span(1, "cell", "cell", 0, 100 * MS, parent_id=None, attrs={}), _span(2, "parse", 10, 40))
    first = critical_path(rec)
    assert critical_path(rec) is first  # the metrics and the finding rules share one walk
    rec.add_span(_span(3, "llm", 50, 90))
    second = critical_path(rec)
    assert second is not first and [s.span_id for s in second.segments if s.kind == "llm"] == [3]
    open_span = _span(4, "parse", 92, None)
    rec.add_span(open_span)
    before_close = critical_path(rec)
    open_span.end_ns = 99 * MS  # closed at stop: the same count of spans, one fewer open
    assert critical_path(rec) is not before_close
    other = _rec(Span(1, "cell", "cell", 0, 100 * MS, parent_id=None, attrs={}), _span(2, "parse", 10, 40))
    assert critical_path(other) is not first  # equal content, another recording
