"""Draws the communication breakdown: each request's phases stacked from 0; mean per phase in the legend."""

from __future__ import annotations

from typing import Any

from bokeh.models import DataRange1d, FactorRange, HoverTool
from bokeh.models.annotations import Legend, LegendItem, Title
from bokeh.plotting import figure
from bokeh.transform import dodge

from workbench.model.run import Run
from workbench.render.breakdown_view import STACKED, BreakdownView
from workbench.render.layout_parts import data_source, place_legend_above
from workbench.render.palette import FAILED_COLOR
from workbench.render.server_split_view import ttft_split_caption

ROW_PX = 26
CHROME_PX = 110
MIN_HEIGHT_PX = 220
LEGEND_ROW_PX = 20  # the legend above the plot: a row per two phases, and its title
MAX_HEIGHT_PX = 800
STACK_HEIGHT = 0.56
PARSE_HEIGHT = 0.14
PARSE_OFFSET = -(STACK_HEIGHT / 2 + PARSE_HEIGHT / 2 + 0.02)

TOOLTIPS = """
<div style="max-width: 420px">
<b>@label</b><br>
@phase_title: <b>@duration_ms{0,0.0} ms</b><br>
@left_ms{0,0.0} → @right_ms{0,0.0} ms from the request's start<br>
<span style="color: #555">not observed: @not_observed</span>
</div>
"""


def breakdown_height(rows: int) -> int:
    return max(MIN_HEIGHT_PX, min(MAX_HEIGHT_PX, CHROME_PX + ROW_PX * rows))


class BreakdownRenderer:
    def render(self, run: Run) -> Any | None:
        view = BreakdownView.from_run(run)
        if view.empty:
            return None
        fig = _figure(view)
        items = []
        for phase in STACKED:
            bars = view.bar_columns(phase)
            if not bars["label"]:
                continue
            bars["line"] = [FAILED_COLOR if f else "white" for f in bars["failed"]]
            source = data_source(bars, name=f"breakdown_{phase}")
            drawn = fig.hbar(
                y="label",
                left="left_ms",
                right="right_ms",
                height=STACK_HEIGHT,
                source=source,
                fill_color=view.mean_of(phase).color,
                line_color="line",
            )
            items.append(LegendItem(label=view.mean_of(phase).legend, renderers=[drawn]))
        parse = view.bar_columns("parse")
        if parse["label"]:
            drawn = fig.hbar(
                y=dodge("label", PARSE_OFFSET, range=fig.y_range),
                left="left_ms",
                right="right_ms",
                height=PARSE_HEIGHT,
                source=data_source(parse, name="breakdown_parse"),
                fill_color=view.mean_of("parse").color,
                line_color=None,
                hatch_pattern="/",
                hatch_color="white",
            )
            items.append(LegendItem(label=view.mean_of("parse").legend, renderers=[drawn]))
        fig.add_tools(HoverTool(renderers=[r for item in items for r in item.renderers], tooltips=TOOLTIPS))
        # Above, not on the right: a legend beside the plot narrows every chart of the dashboard's column
        # to the same frame (Bokeh aligns their frames).
        fig.add_layout(Legend(items=items, title="mean per phase (successful requests)"))
        fig.height = int(fig.height) + LEGEND_ROW_PX * (place_legend_above(fig, ncols=2) + 1)
        caption = ttft_split_caption(run)
        if caption:
            fig.add_layout(Title(text=caption, text_font_size="11px", text_font_style="normal"), "above")
        return fig


def _figure(view: BreakdownView) -> Any:
    rows = len(view.labels)
    shown = f"first {rows} of {view.total_requests} requests" if view.capped else f"{rows} requests"
    fig = figure(
        title=f"Communication breakdown · where each request's time went ({shown}) · thin bar: SDK parsing",
        height=breakdown_height(rows),
        sizing_mode="stretch_width",
        # Reversed so the first request is at the top, as in the waterfall.
        y_range=FactorRange(factors=list(reversed(view.labels))),
        x_range=DataRange1d(start=0),
        tools="xpan,xwheel_zoom,reset,save",
        toolbar_location="above",
        name="request_breakdown",
    )
    fig.toolbar.logo = None
    fig.ygrid.visible = False
    if CHROME_PX + ROW_PX * rows > MAX_HEIGHT_PX:  # rows squeezed below a line of text carry no label
        fig.yaxis.major_label_text_font_size = "0px"

    fig.xaxis.axis_label = "ms from the request's start"
    return fig
