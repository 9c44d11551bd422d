"""Draws the token panel: tokens/s on the run clock, and TTFT and TPOT per request."""

from __future__ import annotations

from typing import Any

from bokeh.layouts import row
from bokeh.models import ColumnDataSource, DataRange1d, FactorRange, HoverTool, Range1d
from bokeh.plotting import figure

from workbench.model.run import Run
from workbench.render.layout_parts import data_source, notice
from workbench.render.timeline_plot import run_clock_range, style_run_clock_axis
from workbench.render.token_view import RequestRow, TokenPanelView

RATE_PX = 220
REQUEST_ROW_PX = 24
REQUEST_CHROME_PX = 90
MAX_REQUESTS_PX = 600
RATE_COLOR = "#e6550d"
TTFT_COLOR = "#6baed6"
TPOT_COLOR = "#74c476"

RATE_TOOLTIPS = [
    ("bin", "@start_ms{0,0} – @end_ms{0,0} ms"),
    ("tokens", "@tokens"),
    ("rate", "@tokens_per_s{0,0.0}/s"),
]
REQUEST_TOOLTIPS = [
    ("request", "@label"),
    ("model", "@model"),
    ("TTFT", "@ttft_ms{0,0.0} ms"),
    ("TPOT", "@tpot_ms{0,0.00} ms"),
    ("E2E", "@e2e_ms{0,0.0} ms"),
    ("output tokens", "@output_tokens"),
]


class TokenRateRenderer:
    def __init__(self, x_range: Range1d | None = None) -> None:
        self.x_range = x_range

    def render(self, run: Run) -> Any:
        view = TokenPanelView.from_run(run)
        if view.empty:
            return notice("Tokens: no LLM requests recorded.")
        rate = view.rate
        x_range = self.x_range if self.x_range is not None else run_clock_range(rate.end_ms[-1])
        fig = figure(
            title=f"Output tokens/s · {rate.bin_ms:g} ms bins",
            height=RATE_PX,
            sizing_mode="stretch_width",
            x_range=x_range,
            y_range=Range1d(start=0, end=max(max(rate.tokens_per_s), 1.0) * 1.1),
            tools="xpan,xwheel_zoom,reset,save",
            toolbar_location="above",
            name="token_rate",
        )
        source = data_source(rate.columns(), name="token_rate_bins")
        bars = fig.quad(
            left="start_ms",
            right="end_ms",
            top="tokens_per_s",
            bottom=0,
            source=source,
            fill_color=RATE_COLOR,
            fill_alpha=0.7,
            line_color=RATE_COLOR,
        )
        fig.add_tools(HoverTool(renderers=[bars], tooltips=RATE_TOOLTIPS))
        fig.yaxis.axis_label = "tokens/s"
        style_run_clock_axis(fig)
        return fig


class RequestLatencyRenderer:
    """TTFT and TPOT side by side: their scales differ by an order of magnitude, so one axis would not do."""

    def render(self, run: Run) -> Any:
        view = TokenPanelView.from_run(run)
        if not view.requests:
            return notice("Per-request latency: no LLM requests recorded.")
        source = data_source(view.request_columns(), name="requests")
        ttft = _latency_figure(view.requests, source, "ttft_ms", "Time to first token (ms)", TTFT_COLOR)
        tpot = _latency_figure(view.requests, source, "tpot_ms", "Time per output token (ms)", TPOT_COLOR)
        tpot.y_range = ttft.y_range
        return row(ttft, tpot, sizing_mode="stretch_width", name="request_latency")


def _latency_figure(
    requests: list[RequestRow], source: ColumnDataSource, field: str, title: str, color: str
) -> Any:
    # Reversed so the first request is at the top, as in the timeline.
    labels = [r.label for r in reversed(requests)]
    fig = figure(
        title=title,
        height=min(MAX_REQUESTS_PX, REQUEST_CHROME_PX + REQUEST_ROW_PX * len(requests)),
        sizing_mode="stretch_width",
        y_range=FactorRange(factors=labels),
        x_range=DataRange1d(start=0),
        tools="save",
        toolbar_location=None,
        name=f"request_{field}",
    )
    bars = fig.hbar(y="label", right=field, height=0.7, source=source, color=color)
    fig.add_tools(HoverTool(renderers=[bars], tooltips=REQUEST_TOOLTIPS))
    fig.ygrid.visible = False
    fig.xaxis.axis_label = "ms"
    return fig
