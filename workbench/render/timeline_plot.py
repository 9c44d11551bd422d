"""Draws the timeline: span bars in nesting lanes, coloured by kind; token arrivals on their request's row."""

from __future__ import annotations

from typing import Any

from bokeh.models import HoverTool, Range1d
from bokeh.plotting import figure

from workbench.model.run import Run
from workbench.render.layout_parts import data_source, draw_bar_labels, notice, place_legend_above
from workbench.render.palette import CRITICAL_OUTLINE, TOKEN_COLOR
from workbench.render.timeline_view import TimelineView

LANE_PX = 26
CHROME_PX = 130
MAX_HEIGHT_PX = 700
LANE_GAP = 0.08
# Within a lane (0 its top, 1 its bottom): where a bar's label goes when token dots run along the bar, and
# the dots. With 26 px lanes an 11 px label spans 0.12-0.54 and a dot of 5-8 px 0.6-0.9.
LABEL_Y = 0.33
TOKEN_Y = 0.75
TOKEN_DOT_PX = 5
# Same left and right borders on every run-clock chart, so their x axes line up on the page.
# Room for the op timeline's row labels (thread and stream names), so every x axis starts at one place.
MIN_BORDER_LEFT = 130
MIN_BORDER_RIGHT = 40

SPAN_TOOLTIPS = """
<div style="max-width: 420px">
<b>@name</b> <span style="color: #555">(@kind, @thread)</span><br>
@start_ms{0,0.0} → @end_ms{0,0.0} ms · @duration_ms{0,0.0} ms<br>
<span style="color: #555; font-size: 11px">@attrs</span>
</div>
"""
PATH_TOOLTIPS = """
<div style="max-width: 420px">
<b>critical path</b>: @name <span style="color: #555">(@kind)</span><br>
@start_ms{0,0.0} → @end_ms{0,0.0} ms · @duration_ms{0,0.0} ms of the path
</div>
"""
TOKEN_TOOLTIPS = [("request", "@request"), ("t", "@t_ms{0,0.0} ms"), ("tokens", "@n_tokens")]


def run_clock_range(duration_ms: float, cell_start_ms: float = 0.0) -> Range1d:
    """The x range shared by every chart on the run clock, in ms since the run started.

    The view opens at the cell's start: before it, the collectors were starting (py-spy's start-up
    check), which is nobody's code; panning left still shows it."""
    end = max(duration_ms, 1e-3)
    start = min(max(cell_start_ms, 0.0), end) * 0.98
    return Range1d(start=start, end=end, bounds=(0.0, end))


def style_run_clock_axis(fig: Any) -> None:
    fig.min_border_left = MIN_BORDER_LEFT
    fig.min_border_right = MIN_BORDER_RIGHT
    fig.xaxis.axis_label = "ms since run start"
    # The logo makes the toolbar taller than a short chart, hiding tools behind an overflow menu.
    fig.toolbar.logo = None


class TimelineRenderer:
    def __init__(self, x_range: Range1d | None = None) -> None:
        self.x_range = x_range

    def render(self, run: Run) -> Any:
        view = TimelineView.from_run(run)
        if view.empty:
            return notice("Timeline: no spans or token arrivals were recorded in this run.")
        fig = self._figure(view)
        bars = data_source(_bar_data(view), name="timeline_spans")
        quads = fig.quad(
            left="x0",
            right="x1",
            top="top",
            bottom="bottom",
            source=bars,
            fill_color="color",
            line_color="line",
            line_alpha="line_alpha",
            line_width="line_width",
            fill_alpha="alpha",
            legend_group="kind",
        )
        fig.add_tools(HoverTool(renderers=[quads], tooltips=SPAN_TOOLTIPS))
        draw_bar_labels(fig, _label_columns(view), bars, "timeline_labels")
        if view.path:
            self._draw_path(fig, view)
        if view.tokens:
            tokens = data_source(_token_data(view), name="timeline_tokens")
            dots = fig.scatter(
                x="t_ms",
                y="y",
                source=tokens,
                size="size",
                color=TOKEN_COLOR,
                marker="circle",
                legend_label="token arrival",
            )
            fig.add_tools(HoverTool(renderers=[dots], tooltips=TOKEN_TOOLTIPS))
        place_legend_above(fig)
        return fig

    def _figure(self, view: TimelineView) -> Any:
        x_range = self.x_range if self.x_range is not None else run_clock_range(view.duration_ms)
        title = "Timeline · spans by nesting (a child below its parent) · dots: token arrivals"
        if view.token_bin_ms:
            title += f" (one dot per request per {_bin_phrase(view.token_bin_ms)})"
        if view.spans_total:
            title += (
                f" · {len(view.bars):,} of {view.spans_total:,} spans drawn: the path's and the longest "
                "(all in the Perfetto export)"
            )
        if view.path:
            title += " · top row: critical path (spans on it outlined)"
        fig = figure(
            title=title,
            height=min(MAX_HEIGHT_PX, view.lanes * LANE_PX + CHROME_PX),
            sizing_mode="stretch_width",
            x_range=x_range,
            y_range=Range1d(start=view.lanes, end=0),
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
            name="timeline",
        )
        fig.yaxis.visible = False
        fig.ygrid.visible = False
        style_run_clock_axis(fig)
        return fig

    def _draw_path(self, fig: Any, view: TimelineView) -> None:
        data = view.path_columns()
        data["top"] = [LANE_GAP] * len(view.path)
        data["bottom"] = [1 - LANE_GAP] * len(view.path)
        path = data_source(data, name="timeline_critical_path")
        quads = fig.quad(
            left="x0",
            right="x1",
            top="top",
            bottom="bottom",
            source=path,
            fill_color="color",
            line_color=CRITICAL_OUTLINE,
            line_width=1.5,
            name="critical_path_segments",
        )
        fig.add_tools(HoverTool(renderers=[quads], tooltips=PATH_TOOLTIPS))
        draw_bar_labels(fig, view.path_columns(), path, "timeline_critical_labels")


def _bar_data(view: TimelineView) -> dict[str, list[Any]]:
    data = view.bar_columns()
    data["top"] = [b.lane + LANE_GAP for b in view.bars]
    data["bottom"] = [b.lane + 1 - LANE_GAP for b in view.bars]
    # Open spans are drawn paler: their end is only the run's end.
    data["alpha"] = [0.45 if b.open else 0.9 for b in view.bars]
    # Spans the critical path goes through are outlined.
    data["line"] = [CRITICAL_OUTLINE if b.critical else "#555" for b in view.bars]
    data["line_alpha"] = [1.0 if b.critical else 0.6 for b in view.bars]
    data["line_width"] = [2.0 if b.critical else 1.0 for b in view.bars]
    return data


def _label_columns(view: TimelineView) -> dict[str, list[Any]]:
    """The bars' labels: in the upper part of a bar that carries token dots, so no dot covers its name."""
    data = view.bar_columns()
    dotted = {t.lane for t in view.tokens}
    data["y"] = [b.lane + LABEL_Y if b.lane in dotted else b.lane + 0.5 for b in view.bars]
    return data


def _token_data(view: TimelineView) -> dict[str, list[Any]]:
    data = view.token_columns()
    # Along the lower part of the request's bar, under its label. A chunk with several tokens is a bigger
    # dot, up to a cap that keeps it inside the bar.
    data["y"] = [t.lane + TOKEN_Y for t in view.tokens]
    data["size"] = [TOKEN_DOT_PX + min(max(t.n_tokens - 1, 0), 3) for t in view.tokens]
    return data


def _bin_phrase(bin_ms: float) -> str:
    return f"{bin_ms / 1000:,.1f} s" if bin_ms >= 1000 else f"{bin_ms:,.0f} ms"
