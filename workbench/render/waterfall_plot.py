"""Draws the request waterfall and requests in flight, on the run clock shared with the timeline."""

from __future__ import annotations

import math
from typing import Any

from bokeh.models import CDSView, GroupFilter, HoverTool, Range1d, SingleIntervalTicker
from bokeh.plotting import figure

from workbench.model.run import Run
from workbench.render.layout_parts import data_source, draw_bar_labels, place_legend_above
from workbench.render.palette import FAILED_COLOR, FAILED_FILL, PHASE_TITLES, REQUEST_FILL, phase_color
from workbench.render.request_view import BAR_BOTTOM, BAR_TOP, InFlightView, WaterfallView
from workbench.render.timeline_plot import run_clock_range, style_run_clock_axis

ROW_PX = 30
CHROME_PX = 190  # title, toolbar, a two-row legend, the x axis
MAX_HEIGHT_PX = 800
IN_FLIGHT_PX = 170
WATERFALL_PHASES = ("queue", "connect", "headers", "first_token", "decode", "tail")
MARKER_COLOR = "#222222"
IN_FLIGHT_COLOR = "#3182bd"
ON_THE_WIRE_COLOR = "#e6550d"

REQUEST_TOOLTIPS = """
<div style="max-width: 440px">
<b>@label</b> <span style="color: #555">@model</span><br>
@phase_title: @start_ms{0,0.0} → @end_ms{0,0.0} ms · <b>@duration_ms{0,0.0} ms</b><br>
status @status · TTFT @ttft · TPOT @tpot · E2E @e2e<br>
output tokens @tokens<br>
<span style="color: #cb181d">@error</span>
</div>
"""
MARKER_TOOLTIPS = [
    ("request", "@label"),
    ("event", "@event"),
    ("t", "@t_ms{0,0.0} ms"),
    ("status", "@status"),
]
IN_FLIGHT_TOOLTIPS = [("from", "@t_ms{0,0.0} ms"), ("in flight", "@count")]


def waterfall_height(rows: int) -> int:
    return min(MAX_HEIGHT_PX, CHROME_PX + ROW_PX * rows)


class WaterfallRenderer:
    """One row per LLM request: its phases as coloured segments, send and token arrivals as markers."""

    def __init__(self, x_range: Range1d | None = None) -> None:
        self.x_range = x_range

    def render(self, run: Run) -> Any | None:
        view = WaterfallView.from_run(run)
        if view.empty:
            return None
        fig = self._figure(view)
        requests = data_source(_request_data(view), name="waterfall_requests")
        whole = fig.quad(
            left="start_ms",
            right="end_ms",
            top="top",
            bottom="bottom",
            source=requests,
            fill_color="fill",
            line_color="line",
        )
        renderers = [whole, *self._draw_failed(fig, view), *self._draw_segments(fig, view)]
        fig.add_tools(HoverTool(renderers=renderers, tooltips=REQUEST_TOOLTIPS))
        markers = data_source(view.marker_columns(), name="waterfall_markers")
        dots = fig.scatter(
            x="t_ms",
            y="y",
            marker="marker",
            source=markers,
            size=7,
            line_color=MARKER_COLOR,
            fill_color="white",
            legend_group="event",
        )
        fig.add_tools(HoverTool(renderers=[dots], tooltips=MARKER_TOOLTIPS))
        if fig.height < MAX_HEIGHT_PX:  # rows squeezed below a line of text carry no label
            draw_bar_labels(fig, view.request_columns(), requests, "waterfall_labels", font_size="10px")
        place_legend_above(fig, ncols=6)
        return fig

    def _figure(self, view: WaterfallView) -> Any:
        rows = len(view.requests)
        shown = f"first {rows} of {view.total_requests} requests" if view.capped else f"{rows} requests"
        x_range = self.x_range if self.x_range is not None else run_clock_range(view.requests[-1].end_ms)
        fig = figure(
            title=f"LLM request waterfall · {shown}, by start · hatched red: failed",
            height=waterfall_height(rows),
            sizing_mode="stretch_width",
            x_range=x_range,
            y_range=Range1d(start=rows, end=0),
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
            name="request_waterfall",
        )
        fig.yaxis.visible = False
        fig.ygrid.visible = False
        style_run_clock_axis(fig)
        return fig

    def _draw_failed(self, fig: Any, view: WaterfallView) -> list[Any]:
        failed = [r.failed for r in view.requests]
        if not any(failed):
            return []
        columns = _request_data(view).items()
        data = {key: [v for v, f in zip(col, failed, strict=True) if f] for key, col in columns}
        source = data_source(data, name="waterfall_failed")
        hatch = fig.quad(
            left="start_ms",
            right="end_ms",
            top="top",
            bottom="bottom",
            source=source,
            fill_alpha=0.0,
            line_color=FAILED_COLOR,
            line_width=1.5,
            hatch_pattern="/",
            hatch_color=FAILED_COLOR,
            hatch_alpha=0.6,
            legend_label="failed",
        )
        return [hatch]

    def _draw_segments(self, fig: Any, view: WaterfallView) -> list[Any]:
        data = view.segment_columns()
        data["top"] = [s.row + BAR_TOP for s in view.segments]
        data["bottom"] = [s.row + BAR_BOTTOM for s in view.segments]
        source = data_source(data, name="waterfall_segments")
        drawn = []
        for phase in WATERFALL_PHASES:
            if phase not in data["phase"]:
                continue
            drawn.append(
                fig.quad(
                    left="start_ms",
                    right="end_ms",
                    top="top",
                    bottom="bottom",
                    source=source,
                    view=CDSView(filter=GroupFilter(column_name="phase", group=phase)),
                    fill_color=phase_color(phase),
                    line_color="white",
                    line_width=0.5,
                    legend_label=PHASE_TITLES[phase],
                )
            )
        return drawn


def _request_data(view: WaterfallView) -> dict[str, list[Any]]:
    data = view.request_columns()
    data["top"] = [r.row + 0.04 for r in view.requests]
    data["bottom"] = [r.row + 0.96 for r in view.requests]
    data["fill"] = [FAILED_FILL if r.failed else REQUEST_FILL for r in view.requests]
    data["line"] = [FAILED_COLOR if r.failed else "#bdbdbd" for r in view.requests]
    return data


class InFlightRenderer:
    def __init__(self, x_range: Range1d | None = None) -> None:
        self.x_range = x_range

    def render(self, run: Run) -> Any | None:
        view = InFlightView.from_run(run)
        if view.empty:
            return None
        mean = "" if view.mean_in_flight is None else f", time-weighted mean {view.mean_in_flight:.2f}"
        wire_note = f" · on the wire: max {view.max_on_the_wire}" if view.held_back else ""
        fig = figure(
            title=f"LLM requests in flight · max {view.max_in_flight}{mean}{wire_note}",
            height=IN_FLIGHT_PX,
            sizing_mode="stretch_width",
            x_range=self.x_range if self.x_range is not None else run_clock_range(view.t_ms[-1]),
            y_range=Range1d(start=0, end=view.max_in_flight + 0.5),
            tools="xpan,xwheel_zoom,reset,save",
            toolbar_location="above",
            name="requests_in_flight",
        )
        source = data_source(view.columns(), name="in_flight_series")
        if view.held_back:
            # Only when the client held requests back: otherwise the two lines coincide.
            wire = data_source(view.wire_columns(), name="on_the_wire_series")
            fig.step(
                x="t_ms",
                y="count",
                source=wire,
                mode="after",
                line_width=2,
                line_dash="dashed",
                color=ON_THE_WIRE_COLOR,
                legend_label="on the wire (since sent)",
            )
        if view.held_back:
            fig.step(
                x="t_ms",
                y="count",
                source=source,
                mode="after",
                line_width=2,
                color=IN_FLIGHT_COLOR,
                legend_label="in flight (since the call)",
            )
            fig.legend.location = "top_right"
        else:
            fig.step(x="t_ms", y="count", source=source, mode="after", line_width=2, color=IN_FLIGHT_COLOR)
        # Step lines are not hit-tested: the hover is on a dot at each change.
        dots = fig.scatter(x="t_ms", y="count", source=source, size=4, color=IN_FLIGHT_COLOR)
        fig.add_tools(HoverTool(renderers=[dots], tooltips=IN_FLIGHT_TOOLTIPS))
        fig.yaxis.axis_label = "requests"
        fig.yaxis.ticker = SingleIntervalTicker(interval=max(1, math.ceil(view.max_in_flight / 4)))
        style_run_clock_axis(fig)
        return fig
