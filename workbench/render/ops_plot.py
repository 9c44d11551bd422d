"""Draws the op timeline: host ops by thread and depth, GPU work by stream, at the level of detail that
fits the zoom, with a click on GPU work outlining the op and the runtime call that launched it."""

from __future__ import annotations

from typing import Any

from bokeh.models import ColumnDataSource, CustomJS, FixedTicker, HoverTool, Range1d, TapTool
from bokeh.models.annotations import Title
from bokeh.plotting import figure

from workbench.model.run import Run
from workbench.render.layout_parts import data_source, place_legend_above
from workbench.render.ops_palette import LAUNCH_HIGHLIGHT, ops_category_color
from workbench.render.ops_view import OpsLevel, OpsTimelineView
from workbench.render.timeline_plot import run_clock_range, style_run_clock_axis

LANE_PX = 22
CHROME_PX = 150
MAX_HEIGHT_PX = 700
# A level still counts as sharp enough while its pixel is under two screen pixels: a gap that narrow
# hidden is hard to see, and it keeps the coarse level on screens wider than the one it was made for.
SHARP_ENOUGH = 2.0

OPS_TOOLTIPS = """
<div style="max-width: 440px">
<b>@name</b> <span style="color: #555">(@category, @lane)</span><br>
@x0{0,0.000} → @x1{0,0.000} ms · @duration_ms{0,0.000} ms<br>
@count{0,0} event(s) merged · busy @busy_ms{0,0.000} ms<br>
<span style="color: #555; font-size: 11px">@detail</span>
</div>
"""

# Shows the coarsest level whose pixel is fine enough for the visible window; the others stay hidden.
PICK_LEVEL_JS = """
const screen_ms = (x_range.end - x_range.start) / Math.max(plot.inner_width, 1);
let pick = levels.length - 1;
for (let k = 0; k < levels.length; k++) {
  if (pixel_ms[k] <= screen_ms * sharp_enough) { pick = k; break; }
}
for (let k = 0; k < levels.length; k++) { levels[k].visible = (k === pick); }
"""

# Outlines the clicked GPU block's launching op and runtime call; the view-model placed them already.
HIGHLIGHT_JS = """
const picked = source.selected.indices;
const out = {x0: [], x1: [], top: [], bottom: [], what: []};
if (picked.length > 0) {
  const d = source.data;
  const i = picked[0];
  for (const what of ["launcher", "runtime"]) {
    const x0 = d[what + "_x0"][i];
    if (Number.isFinite(x0)) {
      out.x0.push(x0); out.x1.push(d[what + "_x1"][i]);
      out.top.push(d[what + "_top"][i]); out.bottom.push(d[what + "_bottom"][i]);
      out.what.push(what);
    }
  }
}
highlight.data = out;
"""


class OpsTimelineRenderer:
    def __init__(self, x_range: Range1d | None = None, width_px: int = 1200) -> None:
        self.x_range = x_range
        self.width_px = width_px

    def render(self, run: Run) -> Any:
        view = OpsTimelineView.from_run(run, width_px=self.width_px)
        if view.empty:
            return None
        fig = self._figure(view)
        levels = [self._draw_level(fig, view, k, level) for k, level in enumerate(view.levels)]
        pick = CustomJS(
            args={
                "levels": levels,
                "pixel_ms": [level.pixel_ns / 1e6 for level in view.levels],
                "x_range": fig.x_range,
                "plot": fig,
                "sharp_enough": SHARP_ENOUGH,
            },
            code=PICK_LEVEL_JS,
        )
        fig.x_range.js_on_change("start", pick)
        fig.x_range.js_on_change("end", pick)
        fig.js_on_change("inner_width", pick)
        fig.add_tools(HoverTool(renderers=levels, tooltips=OPS_TOOLTIPS))
        self._draw_highlight(fig, levels)
        self._draw_legend(fig, view)
        return fig

    def _figure(self, view: OpsTimelineView) -> Any:
        x_range = self.x_range if self.x_range is not None else run_clock_range(view.end_ms, view.start_ms)
        rows = len(view.rows)
        fig = figure(
            title=_title(view),
            height=min(MAX_HEIGHT_PX, rows * LANE_PX + CHROME_PX),
            sizing_mode="stretch_width",
            x_range=x_range,
            y_range=Range1d(start=rows, end=0, bounds=(0, rows)),
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
            name="ops_timeline",
        )
        for line in reversed(_notes(view)):
            fig.add_layout(Title(text=line, text_font_size="11px", text_font_style="normal"), "above")
        ticks = [r + 0.5 for r in range(rows)]
        fig.yaxis.ticker = FixedTicker(ticks=ticks)
        fig.yaxis.major_label_overrides = {t: row.label for t, row in zip(ticks, view.rows, strict=True)}
        fig.yaxis.major_label_text_font_size = "10px"
        fig.ygrid.visible = False
        style_run_clock_axis(fig)
        return fig

    def _draw_level(self, fig: Any, view: OpsTimelineView, k: int, level: OpsLevel) -> Any:
        source = data_source(level.columns, name=f"ops_level_{k}")
        return fig.quad(
            left="x0",
            right="x1",
            top="top",
            bottom="bottom",
            source=source,
            fill_color="color",
            # An outline in the fill colour keeps blocks narrower than a pixel visible.
            line_color="color",
            line_width=1,
            selection_line_color=LAUNCH_HIGHLIGHT,
            nonselection_fill_alpha=0.5,
            nonselection_line_alpha=0.5,
            visible=k == 0,
            name=f"ops_blocks_{k}",
        )

    def _draw_highlight(self, fig: Any, levels: list[Any]) -> None:
        highlight = data_source({"x0": [], "x1": [], "top": [], "bottom": [], "what": []}, name="ops_launch")
        fig.quad(
            left="x0",
            right="x1",
            top="top",
            bottom="bottom",
            source=highlight,
            fill_alpha=0.0,
            line_color=LAUNCH_HIGHLIGHT,
            line_width=2.5,
            name="ops_launch_highlight",
        )
        fig.add_tools(TapTool(renderers=levels))
        for renderer in levels:
            source: ColumnDataSource = renderer.data_source
            show = CustomJS(args={"source": source, "highlight": highlight}, code=HIGHLIGHT_JS)
            source.selected.js_on_change("indices", show)

    def _draw_legend(self, fig: Any, view: OpsTimelineView) -> None:
        # One off-screen entry per category: the levels come and go with the zoom, the legend must not.
        nan = [float("nan")] * len(view.categories)
        keys = data_source(
            {
                "x0": nan,
                "x1": nan,
                "top": nan,
                "bottom": nan,
                "category": list(view.categories),
                "color": [ops_category_color(c) for c in view.categories],
            },
            name="ops_legend",
        )
        fig.quad(
            left="x0",
            right="x1",
            top="top",
            bottom="bottom",
            source=keys,
            fill_color="color",
            legend_group="category",
        )
        place_legend_above(fig)


def _title(view: OpsTimelineView) -> str:
    counts = view.counts
    streams = f"{counts.streams} stream" + ("" if counts.streams == 1 else "s")
    work = f"{counts.cpu_ops:,} CPU ops, {counts.kernels:,} kernels on {streams}"
    return (
        f"Ops · {work} · reduced to screen resolution "
        f"(finest {view.finest_us:.3g} µs in saved output; click a kernel for its launch)"
    )


def _notes(view: OpsTimelineView) -> list[str]:
    counts = view.counts
    notes = []
    if view.gpu_note and counts.kernels == 0:
        notes.append(f"no CUDA: CPU ops only — {view.gpu_note}")
    elif view.gpu_note:
        notes.append(view.gpu_note)
    if counts.deeper_than_cap:
        notes.append(
            f"host rows show nesting depths 0–{view.depth_cap - 1}; "
            f"{counts.deeper_than_cap:,} ops nested deeper are not drawn"
        )
    if counts.python_functions:
        notes.append(f"{counts.python_functions:,} Python function events not drawn (see the flame graph)")
    if counts.dropped:
        notes.append(f"{counts.dropped:,} events dropped while recording")
    return notes
