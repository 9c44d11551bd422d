"""Which panels the dashboard holds for which run, the shared run-clock x range, and the height it reports."""

from __future__ import annotations

from typing import Any

from bokeh.models import ColumnDataSource

from workbench.model import Recording, Span, TokenEvent
from workbench.render.breakdown_plot import LEGEND_ROW_PX as BREAKDOWN_LEGEND_ROW_PX
from workbench.render.breakdown_plot import MAX_HEIGHT_PX as BREAKDOWN_MAX_PX
from workbench.render.dashboard import PAGE_MARGIN_PX, SPACING_PX, DashboardRenderer
from workbench.render.layout_parts import TITLE_LINE_PX
from workbench.render.request_view import MAX_REQUESTS
from workbench.render.waterfall_plot import MAX_HEIGHT_PX as WATERFALL_MAX_PX

from .synthetic import MS, bare_run, http_run, realistic_run

REQUEST_PANELS = {"requests_in_flight", "request_waterfall", "request_breakdown", "model_table"}


def _names(dashboard: Any) -> list[str | None]:
    return [child.name for child in dashboard.layout.children]


def _height(part: Any) -> int:
    # A Div or an input has Bokeh's 5 px margin above and below; a plot has none. A Div that grows when its
    # lines wrap (the header, the tables) counts its one-line estimate, its min_height.
    if part.height or getattr(part, "min_height", None):
        return int(part.height or part.min_height) + (10 if part.margin in (5, (5, 5, 5, 5)) else 0)
    if type(part).__name__ == "Column":
        return sum(_height(child) for child in part.children)
    return max(_height(child) for child in part.children)


def test_http_run_has_every_panel_in_order() -> None:
    names = _names(DashboardRenderer().render(http_run()))
    assert names == [
        "summary_header",
        None,  # the flame graph's notice: no CPU samples
        "timeline",
        "note_bar",
        "stage_table",
        "token_rate",
        "requests_in_flight",
        "request_waterfall",
        "request_breakdown",
        "request_latency",
        "model_table",
    ]


def test_run_clock_charts_share_one_x_range() -> None:
    layout = DashboardRenderer().render(http_run()).layout
    by_name = {child.name: child for child in layout.children}
    ranges = {
        id(by_name[n].x_range) for n in ("timeline", "token_rate", "requests_in_flight", "request_waterfall")
    }
    assert len(ranges) == 1


def test_request_panels_only_with_requests_and_stage_table_only_with_stages() -> None:
    rec = Recording()
    rec.add_span(Span(1, "cell", "cell", 0, 100 * MS))
    rec.add_span(Span(2, "retrieve", "retrieval", 10 * MS, 50 * MS, parent_id=1))
    names = set(_names(DashboardRenderer().render(bare_run(rec, 100.0))))
    assert "stage_table" in names
    assert not names & REQUEST_PANELS
    lone = Recording()
    lone.add_span(Span(1, "cell", "cell", 0, 100 * MS))
    assert "stage_table" not in _names(DashboardRenderer().render(bare_run(lone, 100.0)))
    realistic = set(_names(DashboardRenderer().render(realistic_run())))
    assert realistic >= REQUEST_PANELS and "stage_table" not in realistic


def test_reported_height_is_the_sum_of_the_panels() -> None:
    for run in (http_run(), realistic_run(), bare_run(Recording())):
        dashboard = DashboardRenderer().render(run)
        children = dashboard.layout.children
        expected = sum(_height(c) for c in children) + SPACING_PX * (len(children) - 1) + PAGE_MARGIN_PX
        assert dashboard.height_px == expected
    assert (
        DashboardRenderer().render(http_run()).height_px
        > DashboardRenderer().render(realistic_run()).height_px
    )


def _many_requests(n: int) -> Any:
    rec = Recording()
    rec.add_span(Span(1, "cell", "cell", 0, (n + 10) * MS))
    for i in range(n):
        span_id = i + 2
        attrs = {"send_ns": (i + 1) * MS, "headers_ns": int((i + 1.5) * MS)}
        rec.add_span(Span(span_id, f"call {i}", "llm", i * MS, (i + 3) * MS, parent_id=1, attrs=attrs))
        rec.add_token(TokenEvent(span_id, (i + 2) * MS, 1))
    return bare_run(rec, n + 10.0)


def test_many_requests_are_capped_and_the_titles_say_so() -> None:
    layout = DashboardRenderer().render(_many_requests(MAX_REQUESTS + 5)).layout
    by_name = {child.name: child for child in layout.children}
    waterfall, breakdown = by_name["request_waterfall"], by_name["request_breakdown"]
    assert f"first {MAX_REQUESTS} of {MAX_REQUESTS + 5} requests" in waterfall.title.text
    assert f"first {MAX_REQUESTS} of {MAX_REQUESTS + 5} requests" in breakdown.title.text
    # The breakdown's legend sits above its plot under its title (two phases a row where they fit the
    # output's width), and the dashboard breaks the long title into lines: the chart is taller by both, its
    # plot capped as before.
    legend = breakdown.legend[0]
    legend_rows = -(-len(legend.items) // legend.ncols) + 1
    title_lines = breakdown.title.text.count("\n")
    extra = BREAKDOWN_LEGEND_ROW_PX * legend_rows + TITLE_LINE_PX * title_lines
    assert waterfall.height == WATERFALL_MAX_PX and breakdown.height == BREAKDOWN_MAX_PX + extra
    assert len(breakdown.y_range.factors) == MAX_REQUESTS
    sources = {m.name for m in waterfall.select({"type": ColumnDataSource})}
    assert "waterfall_labels" not in sources  # rows this thin carry no label
    few = {c.name: c for c in DashboardRenderer().render(_many_requests(3)).layout.children}
    assert "3 requests" in few["request_waterfall"].title.text
    assert "waterfall_labels" in {m.name for m in few["request_waterfall"].select({"type": ColumnDataSource})}


def test_token_dots_run_under_the_span_labels() -> None:
    """On a bar that carries token arrivals, the label sits in its upper part and the dots in its lower
    part: at LANE_PX a lane, an 11 px label and the largest dot do not overlap."""
    from workbench.render.timeline_plot import LANE_PX

    timeline = DashboardRenderer().render(realistic_run()).layout.select_one({"name": "timeline"})
    labels = timeline.select_one({"name": "timeline_labels"}).data
    tokens = timeline.select_one({"name": "timeline_tokens"}).data
    dotted_lanes = {int(y) for y in tokens["y"]}
    for y, text in zip(labels["y"], labels["text"], strict=True):
        if int(y) not in dotted_lanes:
            continue
        label_bottom = (y % 1) * LANE_PX + 11 / 2
        for dot_y, size in zip(tokens["y"], tokens["size"], strict=True):
            if int(dot_y) == int(y):
                assert (dot_y % 1) * LANE_PX - size / 2 > label_bottom, (text, dot_y, size)
    assert dotted_lanes and any(int(y) in dotted_lanes for y in labels["y"])
