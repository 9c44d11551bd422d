"""Draws each attached process (`--attach PID`): a flame graph of its own under the cell's, and its threads
as lanes on the run clock under the timeline. The cell's flame graph stays the cell's own."""

from __future__ import annotations

import zlib
from typing import Any

from bokeh.layouts import column
from bokeh.models import CustomJS, FactorRange, HoverTool, Range1d
from bokeh.plotting import figure

from workbench.model.run import Run
from workbench.render.attached_view import AttachedView, attached_views
from workbench.render.flame_plot import (
    ZOOM_JS,
    _attach_detail_switch,
    _draw_frames,
    _draw_labels,
    detail_view,
    icicle_figure,
    source_data,
)
from workbench.render.flame_view import FlameView
from workbench.render.layout_parts import attach_label_fitting, data_source
from workbench.render.timeline_plot import run_clock_range, style_run_clock_axis

LANE_PX = 26
AXIS_PX = 70
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f")
LANE_TOOLTIPS = [
    ("thread", "@thread"),
    ("in", "@function"),
    ("at", "@where"),
    ("ms", "@start_ms{0,0.0} – @end_ms{0,0.0}"),
]


class AttachedFlameRenderer:
    """One flame graph per attached process, titled with its pid and command; None when none was attached."""

    def render(self, run: Run) -> Any:
        views = attached_views(run)
        if not views:
            return None
        return column(*[_flame(v) for v in views], sizing_mode="stretch_width", name="attached_flames")


class AttachedLanesRenderer:
    """One lane chart per attached process on the run clock's shared x range."""

    def __init__(self, x_range: Range1d | None = None) -> None:
        self.x_range = x_range

    def render(self, run: Run) -> Any:
        views = attached_views(run)
        if not views:
            return None
        x_range = self.x_range if self.x_range is not None else run_clock_range(run.last_event_ns / 1e6)
        charts = [_lanes(v, x_range) for v in views]
        return column(*charts, sizing_mode="stretch_width", name="attached_lanes")


def _flame(view: AttachedView) -> Any:
    overview = FlameView.from_tree(view.tree)
    title = f"{view.label} · attached · CPU flame graph · {view.sampled_ms:,.0f} ms sampled · click to zoom"
    fig = icicle_figure(title, overview.max_depth + 1, f"attached_flame_{view.pid}", "share of sampled time")
    rects = data_source(source_data(overview), name=f"attached_flame_rects_{view.pid}")
    _draw_frames(fig, rects)
    labels = _draw_labels(fig, overview)
    rects.selected.js_on_change(
        "indices", CustomJS(args={"rects": rects, "x_range": fig.x_range}, code=ZOOM_JS)
    )
    detail = detail_view(view.tree)
    if len(detail.rects) > len(overview.rects):
        _attach_detail_switch(fig, rects, detail)
    attach_label_fitting(fig, rects, labels)
    return fig


def _lanes(view: AttachedView, x_range: Range1d) -> Any:
    fig = figure(
        title=f"{view.label} · attached · threads while they ran (idle left out)",
        height=LANE_PX * max(len(view.threads), 1) + AXIS_PX,
        sizing_mode="stretch_width",
        x_range=x_range,
        y_range=FactorRange(factors=list(reversed(view.threads))),
        tools="xpan,xwheel_zoom,reset,save",
        toolbar_location="above",
        name=f"attached_lanes_{view.pid}",
    )
    fig.toolbar.logo = None
    data = dict(view.bars)
    data["color"] = [PALETTE[zlib.crc32(f.encode()) % len(PALETTE)] for f in data["function"]]
    bars = fig.hbar(
        y="thread", left="start_ms", right="end_ms", height=0.7, color="color", source=data_source(data)
    )
    fig.add_tools(HoverTool(renderers=[bars], tooltips=LANE_TOOLTIPS))
    style_run_clock_axis(fig)
    return fig
