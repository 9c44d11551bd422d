"""Which panels the dashboard holds for which run, the shared run-clock x range, and the height it reports."""

from __future__ import annotations

from typing import Any

from bokeh.models import ColumnDataSource

from workbench.model import Recording, Span, TokenEvent
from workbench.render.breakdown_plot import MAX_HEIGHT_PX as BREAKDOWN_MAX_PX
from workbench.render.dashboard import PAGE_MARGIN_PX, SPACING_PX, DashboardRenderer
from workbench.render.request_view import MAX_REQUESTS
from workbench.render.waterfall_plot import MAX_HEIGHT_PX as WATERFALL_MAX_PX

from .synthetic import MS, bare_run, http_run, realistic_run

REQUEST_PANELS = {"requests_in_flight", "request_waterfall", "request_breakdown", "model_table"}


def _names(dashboard: Any) -> list[str | None]:
    return [child.name for child in dashboard.layout.children]


def _height(part: Any) -> int:
    # A Div or an input has Bokeh's 5 px margin above and below; a plot has none.
    if part.height:
        return int(part.height) + (10 if part.margin in (5, (5, 5, 5, 5)) else 0)
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
    assert waterfall.height == WATERFALL_MAX_PX and breakdown.height == BREAKDOWN_MAX_PX
    assert len(breakdown.y_range.factors) == MAX_REQUESTS
    sources = {m.name for m in waterfall.select({"type": ColumnDataSource})}
    assert "waterfall_labels" not in sources  # rows this thin carry no label
    few = {c.name: c for c in DashboardRenderer().render(_many_requests(3)).layout.children}
    assert "3 requests" in few["request_waterfall"].title.text
    assert "waterfall_labels" in {m.name for m in few["request_waterfall"].select({"type": ColumnDataSource})}
