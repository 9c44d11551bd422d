"""Draws the GPU panel: the kernel summary as a table, then telemetry tracks on the dashboard's x range."""

from __future__ import annotations

import html
from typing import Any

from bokeh.layouts import column
from bokeh.models import HoverTool, Range1d
from bokeh.models.widgets import Div
from bokeh.plotting import figure

from workbench.model.run import Run
from workbench.render.gpu_panel_view import GpuPanelView, Track
from workbench.render.layout_parts import data_source, place_legend_above
from workbench.render.palette import PACKAGE_PALETTE
from workbench.render.tables import html_table, table_div
from workbench.render.timeline_plot import style_run_clock_axis

TRACK_PX = 150
SUMMARY_LINE_PX = 20
KERNEL_HEADER = ["kernel", "count", "total ms", "mean µs", "max µs", "share of kernel time"]
MAX_KERNEL_ROWS = 10
NAME_CHARS = 90
LINE_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", *PACKAGE_PALETTE)


class GpuPanelRenderer:
    def __init__(self, x_range: Range1d | None = None) -> None:
        self.x_range = x_range

    def render(self, run: Run) -> Any:
        view = GpuPanelView.from_run(run)
        if view.empty:
            return None
        parts: list[Any] = []
        if view.summary:
            parts.append(_summary_div(view.summary))
        if view.kernel_rows:
            parts.append(_kernel_table(view.kernel_rows))
        parts += [self._track(track) for track in view.tracks]
        return column(*parts, sizing_mode="stretch_width", name="gpu_panel")

    def _track(self, track: Track) -> Any:
        fig = figure(
            title=f"GPU telemetry · {track.title}",
            height=TRACK_PX,
            sizing_mode="stretch_width",
            x_range=self.x_range if self.x_range is not None else Range1d(start=0, end=1),
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
            name=f"gpu_track_{track.title.split()[0]}",
        )
        style_run_clock_axis(fig)
        for index, line in enumerate(track.lines):
            source = data_source({"t_ms": line.t_ms, "value": line.values}, name=f"gpu_series_{line.series}")
            drawn = fig.step(
                "t_ms",
                "value",
                source=source,
                mode="after",
                color=LINE_COLORS[index % len(LINE_COLORS)],
                line_width=1.6,
                legend_label=line.label,
            )
            tooltips = [("series", line.label), ("t", "@t_ms{0,0.0} ms"), ("value", "@value{0,0.00}")]
            fig.add_tools(HoverTool(renderers=[drawn], tooltips=tooltips, mode="vline"))
        place_legend_above(fig)
        return fig


def _summary_div(lines: list[str]) -> Any:
    body = "<br>".join(html.escape(line) for line in lines)
    return Div(
        text=f'<div style="font: 12px/1.5 sans-serif; color: #222"><b>GPU</b><br>{body}</div>',
        height=SUMMARY_LINE_PX * (len(lines) + 1) + 10,
        sizing_mode="stretch_width",
        name="gpu_summary",
    )


def _kernel_table(rows: list[dict[str, Any]]) -> Any:
    cells = [
        [
            f'<span title="{html.escape(str(r["name"]))}">{html.escape(_short(str(r["name"])))}</span>',
            f"{int(r['count']):,}",
            f"{float(r['total_ms']):,.2f}",
            f"{float(r['mean_ms']) * 1e3:,.1f}",
            f"{float(r['max_ms']) * 1e3:,.1f}",
            f"{float(r['share']):.0%}",
        ]
        for r in rows[:MAX_KERNEL_ROWS]
    ]
    table = html_table(KERNEL_HEADER, cells, "wb-gpu-kernels")
    return table_div("Top GPU kernels by total time", table, [], len(cells), "gpu_kernels", grow=True)


def _short(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"
