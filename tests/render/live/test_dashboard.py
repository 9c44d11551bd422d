"""The live view's data: increments of a growing recording, running totals, the live flame graph, and the
Bokeh models they update (no browser: see tests/test_live_browser.py for the page)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from workbench.clock import RunClock
from workbench.model import Frame, Recording
from workbench.model.events import Counter, Span, TokenEvent
from workbench.render.live.dashboard import LiveDashboard
from workbench.render.live.flame import LiveFlame
from workbench.render.live.snapshot import TOKEN_BIN_NS, LiveCursor, LiveSnapshot
from workbench.render.live.widget import BatchedBokehModel
from workbench.session.live.updater import LiveSource, LiveUpdater, sample_stack

MS = 1_000_000
S = 1_000_000_000


def span(
    span_id: int, kind: str, start: int, end: int | None, parent: int | None = None, **attrs: Any
) -> Span:
    return Span(span_id, f"{kind}-{span_id}", kind, start, end, parent_id=parent, attrs=attrs)


def test_each_event_is_read_once_and_totals_accumulate() -> None:
    rec = Recording()
    cursor = LiveCursor()
    rec.add_span(span(1, "cell", 0, None))
    rec.add_span(span(2, "llm", 10 * MS, None, parent=1))
    rec.add_token(TokenEvent(2, 110 * MS, 0))  # role-only chunk: no TTFT yet
    rec.add_token(TokenEvent(2, 130 * MS, 3))
    first = LiveSnapshot.from_recording(rec, cursor, 200 * MS, cpu_samples=4)
    assert first.total_tokens == 3 and first.requests == 1 and first.cpu_samples == 4
    assert first.ttft_p50_ms == pytest.approx(120.0)
    assert first.closed_spans == []
    assert [(r.span_id, r.lane, r.end_s) for r in first.open_spans] == [(1, 0, 0.2), (2, 1, 0.2)]
    assert sum(t.n_tokens for t in first.tokens) == 3

    rec.spans[1].end_ns = 300 * MS
    rec.add_token(TokenEvent(2, 290 * MS, 2))
    rec.add_counter(Counter("gpu0.util_pct", 250 * MS, 40.0))
    rec.add_counter(Counter("gpu0.util_pct", 280 * MS, 55.0))
    second = LiveSnapshot.from_recording(rec, cursor, 400 * MS)
    assert [r.span_id for r in second.closed_spans] == [2]
    assert [r.span_id for r in second.open_spans] == [1]
    assert second.total_tokens == 5
    assert [t.n_tokens for t in second.tokens] == [2]  # only the increment
    assert second.counters == {"gpu0.util_pct": 55.0}

    third = LiveSnapshot.from_recording(rec, cursor, 500 * MS)
    assert third.closed_spans == [] and third.tokens == [] and third.total_tokens == 5


def test_ttft_uses_the_send_time_and_the_median_of_requests() -> None:
    rec = Recording()
    cursor = LiveCursor()
    for i, (send, first) in enumerate([(0, 100), (0, 300), (50, 250)], start=1):
        rec.add_span(span(i, "llm", 0, None, send_ns=send * MS))
        rec.add_token(TokenEvent(i, first * MS, 1))
    snapshot = LiveSnapshot.from_recording(rec, cursor, S)
    assert snapshot.ttft_p50_ms == pytest.approx(200.0)  # of 100, 300, 200


def test_tokens_per_second_counts_a_trailing_window() -> None:
    rec = Recording()
    cursor = LiveCursor()
    for t in range(0, 4000, 100):  # 10 tokens/s for 4 s
        rec.add_token(TokenEvent(1, t * MS, 1))
    snapshot = LiveSnapshot.from_recording(rec, cursor, 4 * S)
    assert snapshot.tokens_per_s == pytest.approx(10.0, rel=0.06)
    assert snapshot.total_tokens == 40


def test_token_arrivals_are_merged_per_request_and_bin() -> None:
    rec = Recording()
    for i in range(100):
        rec.add_token(TokenEvent(7, i * MS // 10, 1))  # 100 arrivals within 10 ms
    snapshot = LiveSnapshot.from_recording(rec, LiveCursor(), S)
    assert len(snapshot.tokens) == 1 and snapshot.tokens[0].n_tokens == 100
    assert snapshot.tokens[0].t_s == pytest.approx(TOKEN_BIN_NS / 2 / S)


def test_a_burst_is_caught_up_over_several_ticks() -> None:
    from workbench.render.live import snapshot as live_snapshot

    rec = Recording()
    for i in range(live_snapshot.MAX_SPANS_PER_TICK + 10):
        rec.add_span(span(i + 1, "tool", i, i + 1))
    cursor = LiveCursor()
    first = LiveSnapshot.from_recording(rec, cursor, S)
    second = LiveSnapshot.from_recording(rec, cursor, S)
    assert len(first.closed_spans) == live_snapshot.MAX_SPANS_PER_TICK
    assert len(second.closed_spans) == 10


def test_live_flame_grows_with_samples_and_weights_by_time() -> None:
    flame = LiveFlame()
    cell = Frame("<module>", "/tmp/ipykernel_1/2.py", 1)
    hot = Frame("hot", "/tmp/ipykernel_1/2.py", 5)
    flame.add([cell, hot], 300 * MS)
    flame.add([cell], 100 * MS)
    flame.add([], 100 * MS)
    view = flame.view()
    assert flame.samples == 3
    widths = {r.function: round(r.width, 3) for r in view.rects}
    assert widths == {"cell": 1.0, "<module>": 0.8, "hot": 0.6, "(idle)": 0.2}


def test_sample_stack_trims_to_the_callers_code() -> None:
    # As the live updater does: from its own thread, the stack of the thread running the user's code.
    here = Frame("test_sample_stack_trims_to_the_callers_code", __file__, 0)
    sampled: list[list[Frame]] = []
    done = threading.Event()
    me = threading.get_ident()
    sampler = threading.Thread(
        target=lambda: (sampled.append(sample_stack(me, anchor_files=frozenset({__file__}))), done.set())
    )
    sampler.start()
    done.wait()
    sampler.join()
    [stack] = sampled
    assert stack and stack[0].function == here.function and stack[0].file == __file__


def test_dashboard_update_streams_increments_and_replaces_the_flame() -> None:
    dashboard = LiveDashboard("demo")
    rec = Recording()
    cursor = LiveCursor()
    rec.add_span(span(1, "llm", 0, 100 * MS))
    rec.add_token(TokenEvent(1, 50 * MS, 4))
    flame = LiveFlame()
    flame.add([Frame("f", "x.py", 1)], 10 * MS)
    dashboard.update(LiveSnapshot.from_recording(rec, cursor, 200 * MS, flame.samples), flame.view())
    dashboard.update(LiveSnapshot.from_recording(rec, cursor, 400 * MS, flame.samples))
    assert list(dashboard.spans.data["span_id"]) == [1]
    assert list(dashboard.tokens.data["n_tokens"]) == [4]
    assert list(dashboard.flame_rects.data["function"]) == ["cell", "f"]
    assert list(dashboard.rate.data["t_ms"]) == [200.0, 400.0]
    assert dashboard.ticks == 2
    assert 'data-live="tokens">4<' in dashboard.summary.text


def test_the_widget_sends_one_patch_per_batch() -> None:
    dashboard = LiveDashboard("demo")
    widget = BatchedBokehModel(dashboard.layout)
    sent: list[dict[str, Any]] = []
    widget.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    rec = Recording()
    rec.add_span(span(1, "llm", 0, 100 * MS))
    rec.add_token(TokenEvent(1, 50 * MS, 4))
    with widget.batch():
        dashboard.update(LiveSnapshot.from_recording(rec, LiveCursor(), 200 * MS))
    assert len(sent) == 3 and widget.messages_sent == 3  # header, metadata, content
    assert '"ColumnsStreamed"' in sent[2]["payload"] and '"ModelChanged"' in sent[2]["payload"]
    assert "Live dashboard" in repr(widget)


def test_updater_ticks_in_a_thread_and_stops_with_a_final_update() -> None:
    rec = Recording()
    dashboard = LiveDashboard("demo")
    clock = RunClock.start()
    updater = LiveUpdater(LiveSource(rec, clock, threading.get_ident()), dashboard, tick_s=0.02)
    updater.start()
    deadline = time.monotonic() + 5
    while updater.stats().ticks < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    rec.add_token(TokenEvent(1, clock.now_ns(), 2))
    stats = updater.stop()
    assert updater.thread is not None and not updater.thread.is_alive()
    assert stats.ticks >= 4 and stats.cpu_ms > 0
    assert dashboard.done
    assert "finished" in dashboard.status.text
    assert 'data-live="tokens">2<' in dashboard.summary.text


def test_an_error_in_the_live_view_is_reported_once_and_ends_it() -> None:
    notices: list[str] = []

    class Broken(LiveDashboard):
        def update(self, *args: Any, **kwargs: Any) -> None:
            raise ValueError("boom")

    updater = LiveUpdater(
        LiveSource(Recording(), RunClock.start(), threading.get_ident()), Broken(), notify=notices.append
    )
    updater.tick()
    updater.tick()
    updater.stop()
    assert updater.failed and len(notices) == 1 and "boom" in notices[0]


def test_live_findings_show_the_top_few_escaped_and_so_far() -> None:
    from workbench.model.finding import Finding
    from workbench.render.live.dashboard import LIVE_FINDINGS

    dashboard = LiveDashboard("demo")
    rec = Recording()
    rec.add_span(span(1, "cell", 2 * S, None))  # the cell began 2 s into the run clock
    snapshot = LiveSnapshot.from_recording(rec, LiveCursor(), 4 * S)
    dashboard.update(snapshot)
    assert not dashboard.findings.visible and dashboard.findings_rows["kind"] == []
    findings = [
        Finding("python_stage", "high", f"<b>stage {i}</b>", {}, [], "try", 1000.0 - i, "assumed")
        for i in range(LIVE_FINDINGS + 2)
    ]
    dashboard.update(snapshot, findings=findings)
    assert dashboard.findings.visible
    assert len(dashboard.findings_rows["title"]) == LIVE_FINDINGS
    assert dashboard.findings_rows["gain"][0] == "~1,000 ms (50% of the cell so far)"
    text = dashboard.findings.text
    assert "&lt;b&gt;stage 0&lt;/b&gt;" in text and "<b>stage" not in text  # titles come from the run
    assert text.count('data-finding="python_stage"') == LIVE_FINDINGS
    assert "6 findings so far</b> · 2 more" in text
    dashboard.update(snapshot)  # no new findings: the list stays
    assert dashboard.findings.text == text


def _deep_flame(depth: int) -> LiveFlame:
    """A `generate()`-like stack `depth` frames deep, beside a shallow one."""
    flame = LiveFlame()
    flame.add([Frame(f"layer_{i}", "model.py", i) for i in range(depth)], 300 * MS)
    flame.add([Frame("tokenize", "tok.py", 1)], 100 * MS)
    return flame


@pytest.mark.parametrize("depth", [2, 8, 30, 60])
def test_live_flame_rows_keep_one_height_at_any_depth(depth: int) -> None:
    from workbench.render.flame_plot import CHROME_PX
    from workbench.render.live.dashboard import FLAME_MAX_ROWS, FLAME_ROW_PX

    dashboard = LiveDashboard("demo")
    view = _deep_flame(depth).view()
    dashboard.update(LiveSnapshot.from_recording(Recording(), LiveCursor(), S), view)
    rows = view.max_depth + 1  # the root, then the frames
    shown = dashboard.flame.y_range.start - dashboard.flame.y_range.end
    assert (dashboard.flame.height - CHROME_PX) / shown == FLAME_ROW_PX
    assert shown == min(max(rows, 6), FLAME_MAX_ROWS)
    # Deeper than the cap: the top rows are shown and the rest is a pan away, within the stack's depth.
    assert dashboard.flame.y_range.bounds == (0, max(rows, shown))
    assert ("top 24 of" in dashboard.flame.title.text) == (rows > FLAME_MAX_ROWS)


def test_live_span_bars_carry_their_names_clipped_to_the_bar() -> None:
    from workbench.render.live.dashboard import LABEL_DY, TOKEN_DY

    dashboard = LiveDashboard("demo")
    rec = Recording()
    rec.add_span(Span(1, "cell", "cell", 0, None))
    rec.add_span(Span(2, "retrieve documents", "retrieval", 0, 400 * MS, parent_id=1))
    rec.add_span(Span(3, "generate answer with a long name", "llm", 400 * MS, 520 * MS, parent_id=1))
    rec.add_span(Span(4, "tiny", "parse", 520 * MS, 521 * MS, parent_id=1))
    rec.add_token(TokenEvent(3, 450 * MS, 1))
    cursor = LiveCursor()
    dashboard.update(LiveSnapshot.from_recording(rec, cursor, S))
    labels = dashboard.span_labels.data
    texts = list(labels["text"])
    assert "cell" in texts and "retrieve documents" in texts
    # 120 ms of a 1 s view is about 80 px: the long name is cut to the bar, with an ellipsis.
    clipped = [t for t in texts if t.startswith("generate")]
    assert clipped and clipped[0].endswith("…") and len(clipped[0]) < len("generate answer with a long name")
    assert not any(t.startswith("ti") for t in texts)  # a 1 ms bar is too narrow for a label
    # Labels sit above a lane's centre, token dots below it: no dot covers a name.
    assert all(y % 1 == pytest.approx(1 + LABEL_DY) for y in labels["y"])
    assert list(dashboard.tokens.data["y"]) == [1 + TOKEN_DY]
    sent = dashboard.span_labels.data
    dashboard.update(LiveSnapshot.from_recording(rec, cursor, S))
    assert dashboard.span_labels.data is sent  # unchanged labels are not sent again


def test_live_and_final_charts_use_the_same_time_unit() -> None:
    from tests.render.synthetic import realistic_run
    from workbench.render.dashboard import DashboardRenderer

    final = DashboardRenderer().render(realistic_run()).layout
    units = {final.select_one({"name": n}).xaxis[0].axis_label for n in ("timeline", "token_rate")}
    assert units == {"ms since run start"}
    dashboard = LiveDashboard("demo")
    assert {dashboard.timeline.xaxis[0].axis_label, dashboard.rate_figure.xaxis[0].axis_label} == units
    rec = Recording()
    rec.add_span(span(1, "llm", 250 * MS, 750 * MS))
    rec.add_token(TokenEvent(1, 500 * MS, 1))
    dashboard.update(LiveSnapshot.from_recording(rec, LiveCursor(), S))
    assert list(dashboard.spans.data["start_ms"]) == [250.0]
    assert list(dashboard.spans.data["end_ms"]) == [750.0]
    assert list(dashboard.tokens.data["t_ms"]) == [pytest.approx(TOKEN_BIN_NS / 2 / MS + 500.0, abs=25.0)]
    assert list(dashboard.rate.data["t_ms"]) == [1000.0]


def test_live_timeline_lanes_keep_one_height_up_to_a_cap() -> None:
    from workbench.render.live.dashboard import LANE_PX, TIMELINE_CHROME_PX, TIMELINE_MAX_LANES

    dashboard = LiveDashboard("demo")
    rec = Recording()
    for i in range(1, 31):  # 30 nested spans: 30 lanes
        rec.add_span(span(i, "chain", 0, None, parent=i - 1 if i > 1 else None))
    dashboard.update(LiveSnapshot.from_recording(rec, LiveCursor(), S))
    assert dashboard.timeline.height == TIMELINE_MAX_LANES * LANE_PX + TIMELINE_CHROME_PX
    assert dashboard.timeline.y_range.start == TIMELINE_MAX_LANES - 0.5
    assert dashboard.timeline.y_range.bounds == (-0.5, 29.5)
