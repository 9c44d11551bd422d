"""The differential flame graph: an icicle of both runs' merged call paths, coloured by change in share.

Widths are the mean of a frame's share in run A and in run B, so frames found in only one run stay visible.
Red: a larger share of B's sampled time than of A's (B spends relatively more there); blue: smaller; grey:
unchanged. Frames in only one run are hatched. Click-to-zoom and label fitting are the flame graph's own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from bokeh.models import ColumnDataSource, CustomJS, HoverTool, TapTool

from workbench.analysis.diff import DiffNode
from workbench.render.flame_plot import ROW_GAP, ZOOM_JS, icicle_figure
from workbench.render.flame_view import icicle
from workbench.render.labels import fit_labels
from workbench.render.layout_parts import attach_label_fitting, data_source, notice

MIN_WIDTH = 0.001
# A change in share below this (a fraction of sampled time) is drawn grey.
UNCHANGED = 0.005
GREY = "#d9d9d9"
RED = ((0xF6, 0xC9, 0xC4), (0xC6, 0x28, 0x28))
BLUE = ((0xC9, 0xDD, 0xF2), (0x1F, 0x5F, 0xA8))
HATCH = {"a": "x", "b": "/", None: " "}

TOOLTIPS = """
<div style="max-width: 440px">
<b>@function</b> <span style="color: #a00">@marker</span><br>
<span style="color: #555">@file:@line</span><br>
A @share_a{0.0%} (@total_a_ms{0,0.0} ms) · B @share_b{0.0%} (@total_b_ms{0,0.0} ms)<br>
change in share: @delta_pts{+0.0} points
</div>
"""


@dataclass(frozen=True)
class DiffRect:
    x0: float
    x1: float
    depth: int
    function: str
    file: str
    line: int
    share_a: float
    share_b: float
    delta: float
    delta_pts: float
    total_a_ms: float
    total_b_ms: float
    only_in: str
    marker: str
    label: str
    color: str
    hatch: str


@dataclass(frozen=True)
class DiffFlameView:
    rects: list[DiffRect]

    @property
    def empty(self) -> bool:
        return not self.rects

    @property
    def max_depth(self) -> int:
        return max((r.depth for r in self.rects), default=0)

    @classmethod
    def from_tree(cls, root: DiffNode, min_width: float = MIN_WIDTH) -> DiffFlameView:
        if not (root.total_a_ns or root.total_b_ns):
            return cls([])
        nodes = [n for n in root.walk() if n is not root]
        scale = max([abs(n.delta) for n in nodes] + [4 * UNCHANGED])
        return cls(_layout(root, min_width, scale))

    def columns(self) -> dict[str, list[Any]]:
        names = [f.name for f in fields(DiffRect)]
        data: dict[str, list[Any]] = {name: [getattr(r, name) for r in self.rects] for name in names}
        data["y"] = [r.depth + 0.5 for r in self.rects]
        data["top"] = [r.depth + ROW_GAP for r in self.rects]
        data["bottom"] = [r.depth + 1 - ROW_GAP for r in self.rects]
        return data


def _width(node: DiffNode) -> float:
    return (node.share_a + node.share_b) / 2


def _layout(root: DiffNode, min_width: float, scale: float) -> list[DiffRect]:
    return [
        _rect(node, x0, width, depth, scale)
        for node, x0, width, depth in icicle(root, _width, DiffNode.sorted_children, min_width)
    ]


def _rect(node: DiffNode, x0: float, width: float, depth: int, scale: float) -> DiffRect:
    only = node.only_in
    marker = f"(only in {only.upper()})" if only else ""
    label = node.function if depth else "both runs (click here to zoom out)"
    return DiffRect(
        x0=x0,
        x1=x0 + width,
        depth=depth,
        function=node.function,
        file=node.file,
        line=node.line,
        share_a=node.share_a,
        share_b=node.share_b,
        delta=node.delta,
        delta_pts=100 * node.delta,
        total_a_ms=node.total_a_ns / 1e6,
        total_b_ms=node.total_b_ns / 1e6,
        only_in=only or "",
        marker=marker,
        label=f"{label} {marker}" if marker else label,
        color=delta_color(node.delta, scale),
        hatch=HATCH[only],
    )


def delta_color(delta: float, scale: float) -> str:
    """Grey when unchanged; else red (B's share larger) or blue, deeper as |delta| nears `scale`."""
    if abs(delta) < UNCHANGED:
        return GREY
    light, dark = RED if delta > 0 else BLUE
    t = min(1.0, abs(delta) / scale) if scale > 0 else 1.0
    rgb = (round(lo + (hi - lo) * t) for lo, hi in zip(light, dark, strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


class DiffFlameRenderer:
    def render(self, root: DiffNode) -> Any:
        view = DiffFlameView.from_tree(root)
        if view.empty:
            return notice("Differential flame graph: neither run recorded CPU samples.")
        fig = _figure(view)
        data = view.columns()
        rects = data_source(data, name="diff_flame_rects")
        quads = fig.quad(
            left="x0", right="x1", top="top", bottom="bottom", source=rects,
            fill_color="color", line_color="white", line_width=0.5,
            hatch_pattern="hatch", hatch_color="#444", hatch_alpha=0.5, hatch_scale=8.0,
            hover_line_color="#222", hover_fill_color="color",
            nonselection_fill_alpha=1.0, selection_fill_alpha=1.0, name="diff_flame_quads",
        )  # fmt: skip
        fig.add_tools(HoverTool(renderers=[quads], tooltips=TOOLTIPS), TapTool(renderers=[quads]))
        fitted = fit_labels(data["x0"], data["x1"], data["y"], data["label"], view=(0.0, 1.0))
        labels: ColumnDataSource = data_source(fitted.columns(), name="diff_flame_labels")
        fig.text(x="x", y="y", text="text", source=labels, x_offset=3, text_baseline="middle",
                 text_font_size="11px")  # fmt: skip
        rects.selected.js_on_change(
            "indices", CustomJS(args={"rects": rects, "x_range": fig.x_range}, code=ZOOM_JS)
        )
        attach_label_fitting(fig, rects, labels)
        return fig


def _figure(view: DiffFlameView) -> Any:
    title = (
        "Differential CPU flame graph · red: larger share of B's time, blue: smaller, grey: same, "
        "hatched: in one run only · click a frame to zoom, the top to reset"
    )
    return icicle_figure(title, view.max_depth + 1, "diff_flame", "mean share of sampled time (A and B)")
