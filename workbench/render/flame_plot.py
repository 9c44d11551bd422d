"""Draws the flame graph: an icicle with hover details and click-to-zoom that needs no kernel.

Zoom, label fitting and the switch to finer detail all run as CustomJS in the page, so a saved report or a
notebook opened without a kernel behaves like the live one.
"""

from __future__ import annotations

import math
from typing import Any

from bokeh.models import ColumnDataSource, CustomJS, HoverTool, NumeralTickFormatter, Range1d, TapTool
from bokeh.plotting import figure

from workbench.analysis.cpu import FlameNode
from workbench.model.run import Run
from workbench.render.flame_view import DEFAULT_MIN_WIDTH, FlameView, run_flame_tree
from workbench.render.labels import fit_labels
from workbench.render.layout_parts import attach_label_fitting, data_source, notice

ROW_PX = 20
CHROME_PX = 100
MAX_HEIGHT_PX = 900
ROW_GAP = 0.04
# Finer detail is embedded too, and shown once the view is narrower than this share of the root.
DETAIL_MIN_WIDTH = DEFAULT_MIN_WIDTH / 50
DETAIL_BELOW_SPAN = 0.1
# About 0.6 MB of the saved output at most.
MAX_DETAIL_RECTS = 3_000

TOOLTIPS = """
<div style="max-width: 420px">
<b>@function</b><br>
<span style="color: #555">@file:@line</span><br>
self @self_pct{0.0}% (@self_ms{0,0.0} ms) · total @total_pct{0.0}% (@total_ms{0,0.0} ms)
</div>
"""

# A click selects one frame: zoom to it (the root zooms out) and clear the selection so nothing fades.
ZOOM_JS = """
const i = rects.selected.indices[0];
if (i === undefined) return;
const d = rects.data;
rects.selected.indices = [];
if (d.depth[i] === 0) {
  x_range.setv({start: 0, end: 1});
} else {
  x_range.setv({start: d.x0[i], end: d.x1[i]});
}
"""

# The overview is what the page starts with: kept aside on the first switch instead of saved twice.
SWITCH_DETAIL_JS = f"""
if (rects._wb_overview === undefined) {{ rects._wb_overview = Object.assign({{}}, rects.data); }}
const want = (x_range.end - x_range.start) < {DETAIL_BELOW_SPAN} ? detail.data : rects._wb_overview;
if (rects.data.x0.length !== want.x0.length) {{
  rects.data = Object.assign({{}}, want);
}}
"""


class FlameRenderer:
    def render(self, run: Run) -> Any:
        tree = run_flame_tree(run)
        overview = FlameView.from_tree(tree)
        if overview.empty:
            return notice("CPU flame graph: no CPU samples were recorded in this run.")
        fig = _figure(overview)
        rects = data_source(source_data(overview), name="flame_rects")
        _draw_frames(fig, rects)
        labels = _draw_labels(fig, overview)
        rects.selected.js_on_change(
            "indices", CustomJS(args={"rects": rects, "x_range": fig.x_range}, code=ZOOM_JS)
        )
        detail = detail_view(tree)
        if len(detail.rects) > len(overview.rects):
            _attach_detail_switch(fig, rects, detail)
        # After the detail switch, so labels are fitted to the data the switch has just chosen.
        attach_label_fitting(fig, rects, labels)
        return fig


def _draw_frames(fig: Any, rects: ColumnDataSource) -> None:
    quads = fig.quad(
        left="x0",
        right="x1",
        top="top",
        bottom="bottom",
        source=rects,
        fill_color="color",
        line_color="white",
        line_width=0.5,
        hover_line_color="#222",
        hover_fill_color="color",
        # A click only zooms: the clicked frame must not stay highlighted, nor the others fade.
        nonselection_fill_alpha=1.0,
        selection_fill_alpha=1.0,
        name="flame_quads",
    )
    fig.add_tools(HoverTool(renderers=[quads], tooltips=TOOLTIPS), TapTool(renderers=[quads]))


def _draw_labels(fig: Any, view: FlameView) -> ColumnDataSource:
    data = view.columns()
    fitted = fit_labels(data["x0"], data["x1"], data["y"], data["label"], view=(0.0, 1.0))
    labels = data_source(fitted.columns(), name="flame_labels")
    fig.text(
        x="x", y="y", text="text", source=labels, x_offset=3, text_baseline="middle", text_font_size="11px"
    )
    return labels


def source_data(view: FlameView) -> dict[str, list[Any]]:
    data = view.columns()
    data["top"] = [r.depth + ROW_GAP for r in view.rects]
    data["bottom"] = [r.depth + 1 - ROW_GAP for r in view.rects]
    return data


def _figure(view: FlameView) -> Any:
    title = f"CPU flame graph · {view.total_ms:,.0f} ms sampled · click a frame to zoom, the top to reset"
    return icicle_figure(title, view.max_depth + 1, "flame", "share of sampled time")


def icicle_figure(title: str, rows: int, name: str, axis_label: str) -> Any:
    """An empty icicle: x is the share of time (0-1), depth 0 (the root) at the top."""
    fig = figure(
        title=title,
        height=min(MAX_HEIGHT_PX, rows * ROW_PX + CHROME_PX),
        sizing_mode="stretch_width",
        x_range=Range1d(start=0.0, end=1.0, bounds=(0.0, 1.0)),
        y_range=Range1d(start=rows, end=0),
        tools="xpan,xwheel_zoom,reset,save",
        toolbar_location="above",
        name=name,
    )
    fig.yaxis.visible = False
    fig.toolbar.logo = None
    fig.ygrid.visible = False
    fig.xgrid.visible = False
    fig.xaxis.formatter = NumeralTickFormatter(format="0%")
    fig.xaxis.axis_label = axis_label
    return fig


def detail_view(tree: FlameNode) -> FlameView:
    """The finer level shown when zoomed in: frames down to DETAIL_MIN_WIDTH, or as many of the widest as
    MAX_DETAIL_RECTS allows (an hour of deep, varied stacks has tens of thousands)."""
    detail = FlameView.from_tree(tree, min_width=DETAIL_MIN_WIDTH)
    if len(detail.rects) <= MAX_DETAIL_RECTS:
        return detail
    widths = sorted((r.width for r in detail.rects), reverse=True)
    # Strictly wider than the first width left out, so ties at the cut never overshoot.
    return FlameView.from_tree(tree, min_width=math.nextafter(widths[MAX_DETAIL_RECTS], 1.0))


def _attach_detail_switch(fig: Any, rects: Any, detail: FlameView) -> None:
    args = {"rects": rects, "x_range": fig.x_range, "detail": data_source(source_data(detail))}
    switch = CustomJS(args=args, code=SWITCH_DETAIL_JS)
    fig.x_range.js_on_change("start", switch)
    fig.x_range.js_on_change("end", switch)
